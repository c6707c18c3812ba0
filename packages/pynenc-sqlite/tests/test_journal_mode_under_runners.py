"""The journal mode belongs to the file: under a real runner on ``truncate``, a client
configured with ``wal`` is refused, and the runner and the file go on unchanged."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import JOURNAL_MODE, start_runner
from pynenc_scenarios.processes import ManagedProcess, child_environment

pytestmark = [
    pytest.mark.skipif(
        JOURNAL_MODE != "truncate", reason="the runner runs in truncate whatever the cell"
    ),
    pytest.mark.timeout(240),
]

#: The app of every process here; ``MODE`` in the environment picks its journal mode.
MODULE = """\
import os
from pathlib import Path

from pynenc.builder import PynencBuilder

app = (
    PynencBuilder()
    .app_id("modes")
    .sqlite_stack(str(Path(__file__).with_name("modes.sqlite3")), journal_mode=os.environ["MODE"])
    .thread_runner()
    .build()
)


@app.task
def add(x: int, y: int) -> int:
    return x + y
"""

CLIENT = "from modes import add; print(sum(add(n, 1).result for n in range(20)))"


def _run(workdir: Path, mode: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python *args`` in ``workdir`` with the app configured in ``mode``."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=workdir,
        env=child_environment({"MODE": mode}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[ManagedProcess]:
    """A runner on ``truncate``, once it has opened the database."""
    (tmp_path / "modes.py").write_text(MODULE, encoding="utf-8")
    started = start_runner(tmp_path, "modes", {"MODE": "truncate"})
    try:
        deadline = time.monotonic() + 60
        while "journal mode truncate" not in started.log_path.read_text(errors="replace"):
            assert started.alive(), started.log_path.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the runner did not open the database"
            time.sleep(0.1)
        yield started
    finally:
        started.stop()


def test_a_client_configured_with_another_mode_is_refused_and_the_runner_goes_on(
    runner: ManagedProcess, tmp_path: Path
) -> None:
    refused = _run(tmp_path, "wal", "-c", CLIENT)
    assert refused.returncode != 0
    assert "runs in journal mode 'truncate'" in refused.stderr
    assert "this process is configured with 'wal'" in refused.stderr
    assert "Configure journal_mode 'truncate'" in refused.stderr
    assert not (tmp_path / "modes.sqlite3-wal").exists()

    served = _run(tmp_path, "truncate", "-c", CLIENT)
    assert served.returncode == 0, served.stderr[-2000:]
    assert served.stdout == f"{sum(n + 1 for n in range(20))}\n"
    assert runner.alive()

    listed = _run(
        tmp_path, "truncate", "-m", "pynenc_sqlite", "--json", "invocations", "modes.sqlite3"
    )
    adds = [row["status"] for row in json.loads(listed.stdout) if "add" in row["task_id"]]
    assert adds == ["success"] * 20, listed.stdout
    checked = _run(tmp_path, "truncate", "-m", "pynenc_sqlite", "--json", "check", "modes.sqlite3")
    assert checked.returncode == 0, checked.stdout

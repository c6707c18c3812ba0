"""A full disk under real runner processes: the database's file system is full for
10 s in the middle of a run, then has space again.

The database lives on a small tmpfs mounted for the test (root only); the runners'
logs and the record of task bodies live outside it. Writes wait for space up to the
busy timeout (30 s by default), so the runners ride the fault out: none exits (pynenc's
runner loop would stop on a storage error), every task ends SUCCESS with its result,
and no body runs twice.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import JOURNAL_MODE, start_runner
from pynenc_scenarios.processes import child_environment

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
    pytest.mark.skipif(
        JOURNAL_MODE not in ("wal", "delete"), reason="runs in the two recommended modes"
    ),
    pytest.mark.timeout(400),
]

TASKS = 300
FAULT_SECONDS = 10.0

#: The app; ``DB`` names the database file, ``BODIES`` the record of task bodies.
MODULE = f"""\
import os
from pathlib import Path

from pynenc.builder import PynencBuilder

app = (
    PynencBuilder()
    .app_id("faults")
    .sqlite_stack(os.environ["DB"], journal_mode={JOURNAL_MODE!r})
    .thread_runner()
    .custom_config(
        runner_considered_dead_after_minutes=0.25,
        atomic_service_interval_minutes=0.25,
        atomic_service_spread_margin_minutes=0.02,
        atomic_service_check_interval_minutes=0.02,
    )
    .build()
)


@app.task
def work(n: int) -> int:
    with open(os.environ["BODIES"], "a") as bodies:
        bodies.write(f"{{n}} {{os.getpid()}}\\n")
    import time

    time.sleep(0.05)
    return n
"""

CLIENT = f"""\
import json
from faults import work

invocations = [work(n) for n in range({TASKS})]
print("routed", flush=True)
print(json.dumps(sorted(invocation.result for invocation in invocations)))
"""


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs for the database, unmounted afterwards."""
    mount_point = tmp_path / "db"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount_point], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", mount_point], check=False)


def _fill(mount_point: Path) -> Callable[[], None]:
    """Fill the file system; return what empties it again."""
    filler = mount_point / "filler"
    # ENOSPC comes from a write, or from the close that flushes what is still buffered
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler.unlink


def test_every_task_succeeds_once_after_the_disk_was_full(tmp_path: Path, mounted: Path) -> None:
    (tmp_path / "faults.py").write_text(MODULE, encoding="utf-8")
    bodies = tmp_path / "bodies.txt"
    settings = {"DB": str(mounted / "faults.sqlite3"), "BODIES": str(bodies)}
    runners = [start_runner(tmp_path, "faults", settings, f"runner-{n}") for n in range(2)]
    client_log = tmp_path / "client.log"
    with client_log.open("w") as log:
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT],
            cwd=tmp_path,
            env=child_environment(settings),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert client.stdout is not None
        assert client.stdout.readline() == "routed\n"
        _wait_for_bodies(bodies, TASKS // 4)
        make_room = _fill(mounted)
        time.sleep(FAULT_SECONDS)  # the fault's length, not a wait for an event
        make_room()
        out, _ = client.communicate(timeout=240)
        exited = [runner.name for runner in runners if not runner.alive()]
    finally:
        if client.poll() is None:
            client.kill()
        for runner in runners:
            runner.stop()
    runs = Counter(line.split()[0] for line in bodies.read_text().splitlines())
    assert client.returncode == 0, client_log.read_text()[-3000:]
    assert json.loads(out.splitlines()[-1]) == list(range(TASKS))
    assert not exited, f"runners exited during the fault: {exited}"
    assert sorted(int(n) for n in runs) == list(range(TASKS))
    assert [n for n, count in runs.items() if count > 1] == [], "bodies ran twice"


def _wait_for_bodies(bodies: Path, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not bodies.exists() or len(bodies.read_text().split()) < count:
        assert time.monotonic() < deadline, f"fewer than {count} task bodies ran in {timeout} s"
        time.sleep(0.05)

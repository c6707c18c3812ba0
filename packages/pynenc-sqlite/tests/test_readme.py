"""The README's quick start, run as it is written: its files, its commands, real runner
processes, and the output it promises; then a SIGKILL of one runner."""

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import JOURNAL_MODE
from pynenc_scenarios.processes import ManagedProcess, child_environment

README = Path(__file__).parents[1] / "README.md"
#: ``<!-- quickstart: NAME -->`` and the fenced block after it.
_BLOCK = re.compile(r"<!-- quickstart: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)

pytestmark = [
    pytest.mark.skipif(
        JOURNAL_MODE != "wal", reason="the quick start runs in the default journal mode, wal"
    ),
    pytest.mark.timeout(300),
]


def _blocks() -> dict[str, str]:
    return dict(_BLOCK.findall(README.read_text(encoding="utf-8")))


def _argv(command: str) -> list[str]:
    """A command of the README, run with this interpreter."""
    program, *args = shlex.split(command)
    assert Path(program).name.startswith("python"), command
    return [sys.executable, *args]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Path, list[ManagedProcess]]]:
    """The quick start's files in ``tmp_path`` and its two runners: one started with
    the README's command, one with the systemd unit's ``ExecStart``."""
    blocks = _blocks()
    for name in ("shop.py", "client.py"):
        (tmp_path / name).write_text(blocks[name], encoding="utf-8")
    runner_command, second_command, _ = blocks["run"].splitlines()
    assert runner_command == second_command
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", blocks["shop-runner@.service"], re.M)
    runners = [
        ManagedProcess(
            f"runner-{n}", _argv(command), tmp_path, child_environment({}), tmp_path / f"r{n}.log"
        )
        for n, command in enumerate((runner_command, exec_start))
    ]
    try:
        yield tmp_path, runners
    finally:
        for runner in runners:
            runner.stop()


def test_the_quick_start_runs_as_written(service: tuple[Path, list[ManagedProcess]]) -> None:
    workdir, runners = service
    blocks = _blocks()
    client_command = blocks["run"].splitlines()[2]
    done = subprocess.run(
        _argv(client_command), cwd=workdir, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == blocks["output"]
    assert all(runner.alive() for runner in runners)
    info = subprocess.run(
        [sys.executable, "-m", "pynenc_sqlite", "--json", "info", "shop.sqlite3"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(info.stdout)
    assert found["journal_mode"] == "wal"
    (shop,) = found["apps"]
    # the 500 adds, and the invocations of pynenc's own recovery tasks
    assert shop["app_id"] == "shop"
    assert shop["results"] >= 500, shop


#: Tasks that sleep, so that a runner is killed with some of them RUNNING; defined on
#: the README's app, in a module of their own.
_SLOW_MODULE = """\
import time

from shop import app


@app.task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
"""

_SLOW_CLIENT = """\
import sys
import time

from pynenc.invocation.status import InvocationStatus

from shop import app
from slow import nap

invocations = [nap(1.0) for _ in range(24)]
print("routed", flush=True)
assert sys.stdin.readline().strip() == "killed"
killed_at = time.time()
results = [invocation.result for invocation in invocations]
done_at = time.time()
print(f"results {len(results)} {sum(results)}")
print(f"after the kill {done_at - killed_at:.1f} s")
"""


def test_a_killed_runners_tasks_come_back(service: tuple[Path, list[ManagedProcess]]) -> None:
    """SIGKILL of one runner while tasks run: every task still ends with its result.

    How long after the kill the last result came is printed (``-s``), not asserted.
    """
    workdir, (victim, survivor) = service
    (workdir / "slow.py").write_text(_SLOW_MODULE, encoding="utf-8")
    client_log = workdir / "client.log"  # a file: pynenc's logs could fill a pipe
    with client_log.open("w") as log:
        client = subprocess.Popen(
            [sys.executable, "-c", _SLOW_CLIENT],
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert client.stdout is not None
        assert client.stdin is not None
        assert client.stdout.readline() == "routed\n"
        _wait_until_running(workdir, victim)
        victim.signal_group(signal.SIGKILL)
        client.stdin.write("killed\n")
        client.stdin.flush()
        out, _ = client.communicate(timeout=240)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, client_log.read_text()[-2000:]
    assert "results 24 24.0" in out
    print(out)
    assert survivor.alive()


def _wait_until_running(workdir: Path, runner: ManagedProcess, timeout: float = 60.0) -> None:
    """Wait until ``runner``'s log shows a task RUNNING."""
    deadline = time.monotonic() + timeout
    while "status:running" not in runner.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{runner.name} ran nothing in {timeout} s"
        time.sleep(0.1)

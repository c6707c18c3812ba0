"""A full disk under real runner processes: the database's file system is full for
10 s in the middle of a run, then has space again.

The database lives on a small tmpfs mounted for the test (root only); the runners'
logs and the record of task bodies live outside it. pynenc's runners exit on a
storage error in their loop, so they run under a supervisor that starts them again,
as systemd's ``Restart=on-failure`` does. After the fault clears, every task must end
SUCCESS with its result, and a body may run again only when the runner that ran it
exited (pynenc recovers the RUNNING invocations of a dead runner).
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from conftest import JOURNAL_MODE, start_runner
from pynenc_scenarios.processes import ManagedProcess, child_environment

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
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler.unlink


def test_every_task_succeeds_once_after_the_disk_was_full(tmp_path: Path, mounted: Path) -> None:
    (tmp_path / "faults.py").write_text(MODULE, encoding="utf-8")
    bodies = tmp_path / "bodies.txt"
    settings = {"DB": str(mounted / "faults.sqlite3"), "BODIES": str(bodies)}
    env = child_environment(settings)
    supervisor = Supervisor(tmp_path, settings)
    client_log = tmp_path / "client.log"
    with client_log.open("w") as log:
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert client.stdout is not None
        assert client.stdout.readline() == "routed\n"
        _wait_for_bodies(bodies, TASKS // 4)
        make_room = _fill(mounted)
        supervisor.watch(FAULT_SECONDS)
        make_room()
        deadline = time.monotonic() + 240
        while client.poll() is None and time.monotonic() < deadline:
            supervisor.watch(0.5)
        out, _ = client.communicate(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
        supervisor.stop()
    runs = [line.split() for line in bodies.read_text().splitlines()]
    ran = Counter(n for n, _ in runs)
    again = {n for n, count in ran.items() if count > 1}
    print(
        f"\nrunner exits during the fault: {len(supervisor.exited)}; bodies run again: {len(again)}"
    )
    assert client.returncode == 0, client_log.read_text()[-3000:]
    assert json.loads(out.splitlines()[-1]) == list(range(TASKS))
    assert sorted(int(n) for n in ran) == list(range(TASKS))
    in_exited = {n for n, pid in runs if int(pid) in supervisor.exited}
    assert again <= in_exited, "a body ran again although its runner did not exit"


class Supervisor:
    """Two runners, each started again a second after it exits, as systemd's
    ``Restart=on-failure`` does."""

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        """``env``: what the runners' environment adds."""
        self.workdir, self.env = workdir, env
        #: Pids of the runners that exited.
        self.exited: set[int] = set()
        self.runners = [self._start(n) for n in range(2)]

    def _start(self, n: int) -> ManagedProcess:
        return start_runner(self.workdir, "faults", self.env, f"runner-{n}")

    def watch(self, seconds: float) -> None:
        """Restart the runners that exit, for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for n, runner in enumerate(self.runners):
                if not runner.alive():
                    self.exited.add(runner.pid)
                    runner.stop()
                    time.sleep(1.0)
                    self.runners[n] = self._start(n)
            time.sleep(0.1)

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()


def _wait_for_bodies(bodies: Path, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not bodies.exists() or len(bodies.read_text().split()) < count:
        assert time.monotonic() < deadline, f"fewer than {count} task bodies ran in {timeout} s"
        time.sleep(0.05)

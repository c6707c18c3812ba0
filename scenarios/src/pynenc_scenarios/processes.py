"""Runner and client processes: each leads its own session, is always cleaned up.

:class:`ManagedProcess` is stopped with SIGTERM to its leader, then SIGKILL of its
process group, with timeouts; leftovers are ended at exit, on SIGTERM and on
Ctrl-C. Every started group is noted in the ledger file named by
``$SCENARIOS_PROCESS_LEDGER``, so that ``pynenc-scenarios run`` can end what a scenario it
had to kill left behind. :class:`StartGate` releases processes at one instant.
"""

import atexit
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

PYTHON = sys.executable
#: Environment variable naming a file where every started process group is noted,
#: so that ``pynenc-scenarios run`` can end leftovers of a scenario it had to kill.
LEDGER_ENV = "SCENARIOS_PROCESS_LEDGER"

_LIVE: dict[int, "ManagedProcess"] = {}


class ManagedProcess:
    """A child process leading its own session (process group id == pid)."""

    def __init__(
        self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.runner_id = ""
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.popen.pid
        _LIVE[self.pid] = self
        if ledger := os.environ.get(LEDGER_ENV):
            with open(ledger, "a") as handle:
                handle.write(f"{self.pid} {cwd}\n")

    def alive(self) -> bool:
        """Whether the leading process still runs."""
        return self.popen.poll() is None

    def group_alive(self) -> bool:
        """Whether any process of the group (workers included) still exists."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal_group(self, signum: int) -> None:
        """Signal every process of the group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def signal_leader(self, signum: int) -> None:
        """Signal the leading process only (its workers are left alone)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stop(self, grace: float = 4.0, signum: int = signal.SIGTERM) -> None:
        """``signum`` to the leader, wait ``grace`` seconds, then SIGKILL the whole group.

        The group is continued first: a stopped process (see the nemesis) would take
        ``signum`` only when continued.
        """
        self.signal_group(signal.SIGCONT)
        if self.alive():
            self.signal_leader(signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        deadline = time.time() + 5
        while self.group_alive() and time.time() < deadline:
            time.sleep(0.05)
        _LIVE.pop(self.pid, None)


class StartGate:
    """A start line for processes: each waits for a shared lock on a file that this
    process holds exclusively, so all of them pass at the instant it lets go.

    A process at the gate prints ``waiting at <file name>`` (see ``pass_gate`` in
    ``app_template.py``); the gate opens once every process has printed it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = path.open("wb")
        fcntl.lockf(self._handle, fcntl.LOCK_EX)

    def open_when_all_wait(self, processes: Sequence[ManagedProcess], deadline: float) -> None:
        """Open the gate once each process waits at it; fail when one exits or at deadline."""
        mark = f"waiting at {self.path.name}\n"
        waiting: set[int] = set()
        while len(waiting) < len(processes):
            for process in processes:
                if process.pid not in waiting and mark in process.log_path.read_text():
                    waiting.add(process.pid)
                elif not process.alive():
                    raise RuntimeError(f"{process.name} exited: {tail(process.log_path)}")
            if time.time() > deadline:
                raise TimeoutError(
                    f"{len(waiting)} of {len(processes)} processes reached {self.path.name}"
                )
            time.sleep(0.02)
        self.open()

    def open(self) -> None:
        """Let every waiting process through (idempotent)."""
        if not self._handle.closed:
            self._handle.close()  # releases the lock


def cleanup_processes() -> None:
    """End every process group this process started and did not stop yet."""
    for process in list(_LIVE.values()):
        process.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(5)
        _LIVE.pop(process.pid, None)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    del frame
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not interrupt cleanup
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt and end leftovers at exit."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    atexit.register(cleanup_processes)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without PYNENC__ settings, plus ``extra``; the directory this
    process started in and ``$PYTHONPATH`` (made absolute: children run in their work
    dir) stay importable, so that children load the same description."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC__")}
    env["PYTHONUNBUFFERED"] = "1"
    paths = filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), *map(os.path.abspath, paths)])
    env.update(extra)
    return env


def tail(path: Path, lines: int = 5) -> str:
    """Last lines of a log file."""
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""

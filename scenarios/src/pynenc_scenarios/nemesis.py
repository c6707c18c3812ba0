"""Faults beyond SIGKILL, injected into a case's runner processes (a "nemesis", as
Jepsen calls it), each recorded with its times so that checks can relate it to the
histories.

- :meth:`Nemesis.paused`: a runner's whole process group stopped (SIGSTOP) and
  continued (SIGCONT), as a GC pause, a VM freeze or a suspended laptop does.
- :meth:`Nemesis.step_clock`: the wall clock of every process that follows a shared
  clock file steps at once, as an NTP step or a resume from suspend moves a host's
  clock (``time.monotonic`` does not move, as on a real host).
- :meth:`Nemesis.partitioned`: a runner host's network link down and back up, as a
  partition does (``network.py``: runners on their own network namespaces).
"""

import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pynenc_scenarios.network import Host
from pynenc_scenarios.processes import ManagedProcess


@dataclass(frozen=True)
class Fault:
    """One injected fault: its kind, what it hit, and when (epoch seconds)."""

    kind: str
    target: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        """How long the fault lasted."""
        return self.end - self.start


class Nemesis:
    """Injects faults into one case; :attr:`faults` lists those injected, in order."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    @contextmanager
    def paused(self, runner: ManagedProcess) -> Iterator[None]:
        """Stop every process of ``runner``'s group for the ``with`` block, then continue
        them, also when the block raises."""
        start = time.time()
        runner.signal_group(signal.SIGSTOP)
        try:
            yield
        finally:
            runner.signal_group(signal.SIGCONT)
            self.faults.append(Fault("pause", runner.runner_id or runner.name, start, time.time()))

    @contextmanager
    def partitioned(self, host: Host) -> Iterator[None]:
        """Cut ``host``'s link for the ``with`` block, then restore it, also when the
        block raises."""
        start = time.time()
        host.cut()
        try:
            yield
        finally:
            host.restore()
            self.faults.append(Fault("partition", host.name, start, time.time()))

    def step_clock(self, clock: Path, seconds: float, timeout: float = 10.0) -> None:
        """Step the wall clock of every process that follows ``clock`` by ``seconds``;
        return once each live follower has applied the step.

        ``clock`` holds the offset in seconds that followers add to their wall clock
        (``app_template.follow_shared_clock``); each acknowledges the offset it applies
        in ``<clock>.<pid>``. The new offset replaces the file in one rename.
        """
        start = time.time()
        offset = read_offset(clock) + seconds
        staging = clock.with_name(f"{clock.name}-new")
        staging.write_text(repr(offset))
        staging.replace(clock)
        deadline = time.monotonic() + timeout
        while lagging := [pid for pid, applied in _acks(clock).items() if applied != offset]:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"processes {lagging} did not follow the clock step within {timeout:g}s"
                )
            time.sleep(0.01)
        self.faults.append(Fault("clock", f"{seconds:+g}s", start, time.time()))


def read_offset(clock: Path) -> float:
    """The offset a shared clock file holds (0 before the first step)."""
    try:
        return float(clock.read_text())
    except FileNotFoundError:
        return 0.0


def _acks(clock: Path) -> dict[int, float]:
    """The offset each live follower of ``clock`` last applied, by pid."""
    acks = {}
    for ack in clock.parent.glob(f"{clock.name}.*"):
        pid = ack.name.rpartition(".")[2]
        if pid.isdecimal() and _alive(int(pid)):
            try:
                acks[int(pid)] = float(ack.read_text())
            except (FileNotFoundError, ValueError):  # replaced as it was read
                acks[int(pid)] = math.nan
    return acks


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")

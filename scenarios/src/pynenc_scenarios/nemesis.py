"""Faults beyond SIGKILL, injected into a case's runner processes (a "nemesis", as
Jepsen calls it), each recorded with its times so that checks can relate it to the
histories.

Today: :meth:`Nemesis.paused`, a runner's whole process group stopped (SIGSTOP) and
continued (SIGCONT), as a GC pause, a VM freeze or a suspended laptop does.
"""

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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

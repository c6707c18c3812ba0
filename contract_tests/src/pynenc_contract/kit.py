"""Helpers the contract tests share: tasks, registered invocations, status walks."""

import time
from collections import deque
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus, get_status_definition

from pynenc_contract import tasks

if TYPE_CHECKING:
    from pynenc import Pynenc
    from pynenc.identifiers.invocation_id import InvocationId
    from pynenc.task import Task


class Clock:
    """This process's clocks, which the suite moves instead of sleeping; both keep ticking.

    :meth:`shift` stands for time passing: the wall clock (``time.time``,
    ``datetime.now``: time-machine) and ``time.monotonic`` move together, so that a
    backend may judge time by either. :meth:`step` moves the wall clock alone, as an
    NTP step or a resume from suspend does. ``time.monotonic`` is moved where it is
    looked up, on the ``time`` module: code that bound it earlier does not see a shift.
    """

    def __init__(self, traveller: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch):
        self._traveller = traveller
        self._monotonic_offset = 0.0
        real_monotonic = time.monotonic
        monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + self._monotonic_offset)

    def shift(self, seconds: float) -> None:
        """Let ``seconds`` pass at once."""
        self._traveller.shift(seconds)
        self._monotonic_offset += seconds

    def step(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` while no time passes."""
        self._traveller.shift(seconds)


REGISTRAR = "registrar"
OWNER = "runner-owner"
OTHER = "runner-other"


def task(app: "Pynenc", func: Any = tasks.add, **options: Any) -> "Task[Any, Any]":
    """Wrap a suite task function for ``app``."""
    wrapped: Task[Any, Any] = app.task(func, **options)
    return wrapped


def suite_task(app: "Pynenc", name: str) -> "Task[Any, Any]":
    """The suite task ``tasks.<name>`` as ``app`` knows it (with the options it was
    registered with)."""
    return app.get_task(TaskId(tasks.__name__, name))


def invocations(
    app: "Pynenc", count: int = 1, task_: "Task[Any, Any] | None" = None, **kwargs: Any
) -> list[DistributedInvocation[Any, Any]]:
    """Register ``count`` new invocations (arguments ``kwargs`` or ``x=i, y=0``)."""
    task_ = task_ or task(app)
    created = [
        DistributedInvocation.isolated(Call(task_, Arguments(kwargs or {"x": i, "y": 0})))
        for i in range(count)
    ]
    app.orchestrator._register_new_invocations(created, REGISTRAR)
    return created


def registered(app: "Pynenc", count: int = 1) -> list["InvocationId"]:
    """Ids of ``count`` newly registered invocations."""
    return [inv.invocation_id for inv in invocations(app, count)]


@cache
def path_to(status: InvocationStatus) -> tuple[InvocationStatus, ...]:
    """Shortest sequence of allowed transitions from REGISTERED to ``status``."""
    queue: deque[tuple[InvocationStatus, ...]] = deque([(InvocationStatus.REGISTERED,)])
    seen = {InvocationStatus.REGISTERED}
    while queue:
        path = queue.popleft()
        if path[-1] == status:
            return path[1:]
        for target in sorted(get_status_definition(path[-1]).allowed_transitions):
            if target not in seen:
                seen.add(target)
                queue.append((*path, target))
    raise ValueError(f"{status} cannot be reached from REGISTERED")


def walk(
    app: "Pynenc", invocation_id: "InvocationId", statuses: Sequence[InvocationStatus]
) -> None:
    """Apply ``statuses`` in order, always as runner OWNER."""
    for status in statuses:
        app.orchestrator._atomic_status_transition(invocation_id, status, OWNER)


def at_status(app: "Pynenc", status: InvocationStatus) -> "InvocationId":
    """A new invocation brought to ``status`` (owned by OWNER where the status keeps one)."""
    (invocation_id,) = registered(app)
    walk(app, invocation_id, path_to(status))
    return invocation_id

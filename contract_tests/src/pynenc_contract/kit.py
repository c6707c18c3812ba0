"""Helpers the contract tests share: tasks, registered invocations, status walks."""

from collections import deque
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

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

"""Races between threads or OS processes, each racer with its own app and runner id.

A race is a work function that every racer runs at once (a name of :data:`WORK`, or
``"module:function"`` of an importable module, such as a suite module),
released by a barrier; a work may wait at the barrier again (``racer.sync()``) to
line racers up between its steps. Racing processes build their apps from the
backend description and register the suite tasks the race names with the test's
options first, so that they see the same tasks as the test.
"""

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.exceptions import InvocationStatusError
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceId, AtomicServiceRun
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract import kit, tasks
from pynenc_contract.backend import (
    BackendDescription,
    Component,
    build_in_child,
    load_object,
)
from pynenc_contract.workers import WorkerError, run_workers

if TYPE_CHECKING:
    from pynenc import Pynenc

RACE_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Racer:
    """One racer: its index among ``racers``, and the barrier shared with the others."""

    index: int
    racers: int
    sync: Callable[[], object]

    @property
    def runner_id(self) -> str:
        return racer_id(self.index)


def racer_id(index: int) -> str:
    """The runner id of racer ``index``."""
    return f"racer-{index}"


#: A racer's work: (app, racer, inputs) -> what it won, counted or got.
Work = Callable[["Pynenc", Racer, Sequence[str]], list[str]]


def claim(app: "Pynenc", racer: Racer, invocation_ids: Sequence[str]) -> list[str]:
    """Try REGISTERED -> PENDING on each id; return the ids this runner won."""
    won = []
    for invocation_id in invocation_ids:
        try:
            app.orchestrator._atomic_status_transition(
                InvocationId(invocation_id), InvocationStatus.PENDING, racer.runner_id
            )
        except InvocationStatusError:
            continue
        won.append(invocation_id)
    return won


def increment(app: "Pynenc", racer: Racer, invocation_ids: Sequence[str]) -> list[str]:
    """Increment the retries of each id once; return the ids incremented."""
    for invocation_id in invocation_ids:
        app.orchestrator.increment_invocation_retries(InvocationId(invocation_id))
    return list(invocation_ids)


def claim_atomic_service(app: "Pynenc", racer: Racer, inputs: Sequence[str]) -> list[str]:
    """Heartbeat, then try to start a RUNNING atomic-service execution once."""
    app.orchestrator.register_runner_heartbeats([racer.runner_id], can_run_atomic_service=True)
    run = AtomicServiceRun(atomic_service_id=AtomicServiceId(racer.runner_id))
    accepted = app.orchestrator.record_atomic_service_execution_start(run, datetime.now(UTC))
    return [racer.runner_id] if accepted else []


def start_running(app: "Pynenc", racer: Racer, invocation_ids: Sequence[str]) -> list[str]:
    """Start the racer's own PENDING invocations, one round per ``len(racers)`` ids
    (racer ``i`` takes the ``i``-th of each round), as pynenc's
    ``DistributedInvocation.run`` does: ``is_authorize_to_run_by_concurrency_control``,
    then ``reroute_invocations`` when refused, else ``set_invocation_status(RUNNING)``.
    In each round every racer checks before any of them writes (a runner may pause
    there). Returns the ids this racer started."""
    orchestrator = app.orchestrator
    context = RunnerContext("ContractRacer", runner_id=racer.runner_id)
    started = []
    for first in range(0, len(invocation_ids), racer.racers):
        invocation_id = InvocationId(invocation_ids[first + racer.index])
        invocation = app.state_backend.get_invocation(invocation_id)
        racer.sync()
        authorized = orchestrator.is_authorize_to_run_by_concurrency_control(invocation)
        racer.sync()
        try:
            if not authorized:
                orchestrator.reroute_invocations({invocation_id}, context)
                continue
            orchestrator.set_invocation_status(invocation_id, InvocationStatus.RUNNING, context)
        except InvocationStatusError:  # refused: another one runs
            continue
        started.append(str(invocation_id))
    return started


def route_same_call(app: "Pynenc", racer: Racer, calls: Sequence[str]) -> list[str]:
    """For each ``"task:key"``, all racers at once: ``route_call`` of
    ``tasks.<task>(key, 0)``. Returns the invocation id each call got."""
    got = []
    for name_and_key in calls:
        name, _, key = name_and_key.partition(":")
        racer.sync()
        call: Call[Any, Any] = Call(kit.suite_task(app, name), Arguments({"key": key, "n": 0}))
        got.append(str(app.orchestrator.route_call(call).invocation_id))
    return got


def _warm_up(app: "Pynenc", kind: Component) -> object:
    """Reach the backend once through the ``kind`` of component that races, so that
    setting up connections does not decide the race; return that component."""
    if kind == Component.ORCHESTRATOR:
        app.orchestrator.get_active_runners()
    return getattr(app, kind.value)


WORK: dict[str, Work] = {
    "claim": claim,
    "increment": increment,
    "claim_atomic_service": claim_atomic_service,
    "start_running": start_running,
    "route_same_call": route_same_call,
}


def work_function(work: str) -> Work:
    """The work named ``work``: a key of :data:`WORK` or ``"module:function"``."""
    found = WORK.get(work) or load_object(work)
    if not callable(found):
        raise TypeError(f"race work {work!r} is not a function")
    return found


def in_threads(
    app: "Pynenc",
    work: str,
    inputs: Sequence[str],
    racers: int,
    kind: Component = Component.ORCHESTRATOR,
) -> list[list[str]]:
    """Run ``work`` in ``racers`` threads sharing ``app``, as a runner's threads do."""
    barrier = threading.Barrier(racers)
    function = work_function(work)

    def race(index: int) -> list[str]:
        _warm_up(app, kind)
        barrier.wait(RACE_TIMEOUT_SECONDS)
        racer = Racer(index, racers, lambda: barrier.wait(RACE_TIMEOUT_SECONDS))
        return function(app, racer, inputs)

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(race, range(racers), timeout=RACE_TIMEOUT_SECONDS))


def in_processes(
    backend: BackendDescription,
    app_id: str,
    workdir: Path,
    *,
    work: str,
    inputs: Sequence[str],
    racers: int,
    task_options: Mapping[str, Mapping[str, Any]] | None = None,
    kind: Component = Component.ORCHESTRATOR,
) -> list[list[str]]:
    """Run ``work`` in ``racers`` spawned OS processes, started together.

    :param task_options: suite task name -> its options in the test's app; each
        racer registers them the same way in its app.
    :param kind: the component that races; each racer checks that its app has the
        backend's class for it.
    """
    job = RaceJob(
        backend.child_app_builder(),
        kind,
        backend.component_class(kind),
        app_id,
        str(workdir),
        work,
        list(inputs),
        {name: dict(options) for name, options in (task_options or {}).items()},
    )
    try:
        return run_workers(
            _race_in_child,
            [(job, index, racers) for index in range(racers)],
            timeout=RACE_TIMEOUT_SECONDS,
            name="racer",
        )
    except WorkerError as error:
        raise AssertionError(f"a racing process failed: {error}") from None


@dataclass(frozen=True)
class RaceJob:
    """What every racing process needs to build its app and race (picklable)."""

    builder: tuple[str, str]
    kind: Component
    component_class: type | None
    app_id: str
    workdir: str
    work: str
    inputs: list[str]
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)


def _race_in_child(job_and_place: tuple[RaceJob, int, int], barrier: Barrier) -> list[str]:
    """A racing process: build the app, wait for the others, race."""
    job, index, racers = job_and_place
    app = build_in_child(job.builder, job.app_id, Path(job.workdir))
    for name, options in job.task_options.items():
        kit.task(app, getattr(tasks, name), **options)
    function = work_function(job.work)
    component = _warm_up(app, job.kind)
    if type(component) is not job.component_class:
        raise TypeError(f"child built {type(component).__name__} as its {job.kind}")
    barrier.wait(RACE_TIMEOUT_SECONDS)
    racer = Racer(index, racers, lambda: barrier.wait(RACE_TIMEOUT_SECONDS))
    return function(app, racer, job.inputs)

"""Races between threads or OS processes, each racer with its own app and runner id."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING

from pynenc.exceptions import InvocationStatusError
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceId, AtomicServiceRun

from pynenc_contract.backend import BackendDescription, build_in_child
from pynenc_contract.workers import WorkerError, run_workers

if TYPE_CHECKING:
    from pynenc import Pynenc

#: A racer's work: (app, runner id, invocation ids) -> what it won or counted.
Work = Callable[["Pynenc", str, list[InvocationId]], list[InvocationId]]
RACE_TIMEOUT_SECONDS = 60.0


def claim(app: "Pynenc", runner_id: str, invocation_ids: list[InvocationId]) -> list[InvocationId]:
    """Try REGISTERED -> PENDING on each id; return the ids this runner won."""
    won = []
    for invocation_id in invocation_ids:
        try:
            app.orchestrator._atomic_status_transition(
                invocation_id, InvocationStatus.PENDING, runner_id
            )
        except InvocationStatusError:
            continue
        won.append(invocation_id)
    return won


def increment(
    app: "Pynenc", runner_id: str, invocation_ids: list[InvocationId]
) -> list[InvocationId]:
    """Increment the retries of each id once; return the ids incremented."""
    for invocation_id in invocation_ids:
        app.orchestrator.increment_invocation_retries(invocation_id)
    return invocation_ids


def claim_atomic_service(
    app: "Pynenc", runner_id: str, invocation_ids: list[InvocationId]
) -> list[InvocationId]:
    """Heartbeat, then try to start a RUNNING atomic-service execution once."""
    app.orchestrator.register_runner_heartbeats([runner_id], can_run_atomic_service=True)
    run = AtomicServiceRun(atomic_service_id=AtomicServiceId(runner_id))
    accepted = app.orchestrator.record_atomic_service_execution_start(run, datetime.now(UTC))
    return [InvocationId(runner_id)] if accepted else []


def _warm_up(app: "Pynenc") -> None:
    """Reach the backend once, so that setting up connections does not decide the race."""
    app.orchestrator.get_active_runners()


WORK: dict[str, Work] = {
    "claim": claim,
    "increment": increment,
    "claim_atomic_service": claim_atomic_service,
}


def in_threads(
    app: "Pynenc", work: str, ids: list[InvocationId], racers: int
) -> list[list[InvocationId]]:
    """Run ``work`` in ``racers`` threads sharing ``app``, as a runner's threads do."""
    barrier = threading.Barrier(racers)

    def race(index: int) -> list[InvocationId]:
        _warm_up(app)
        barrier.wait(RACE_TIMEOUT_SECONDS)
        return WORK[work](app, f"racer-{index}", ids)

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(race, range(racers), timeout=RACE_TIMEOUT_SECONDS))


def in_processes(
    backend: BackendDescription,
    app_id: str,
    workdir: Path,
    *,
    work: str,
    ids: list[InvocationId],
    racers: int,
) -> list[list[InvocationId]]:
    """Run ``work`` in ``racers`` spawned OS processes, started together."""
    job = RaceJob(
        backend.child_app_builder(), backend.orchestrator_class, app_id, str(workdir), work, ids
    )
    try:
        won = run_workers(
            _race_in_child,
            [(job, index) for index in range(racers)],
            timeout=RACE_TIMEOUT_SECONDS,
            name="racer",
        )
    except WorkerError as error:
        raise AssertionError(f"a racing process failed: {error}") from None
    return [list(ids) for ids in won]


@dataclass(frozen=True)
class RaceJob:
    """What every racing process needs to build its app and race (picklable)."""

    builder: tuple[str, str]
    orchestrator_class: type
    app_id: str
    workdir: str
    work: str
    ids: list[InvocationId]


def _race_in_child(job_and_index: tuple[RaceJob, int], barrier: Barrier) -> list[InvocationId]:
    """A racing process: build the app, wait for the others, race."""
    job, index = job_and_index
    app = build_in_child(job.builder, job.app_id, Path(job.workdir))
    if type(app.orchestrator) is not job.orchestrator_class:
        raise TypeError(f"child built {type(app.orchestrator).__name__}")
    _warm_up(app)
    barrier.wait(RACE_TIMEOUT_SECONDS)
    return WORK[job.work](app, f"racer-{index}", job.ids)

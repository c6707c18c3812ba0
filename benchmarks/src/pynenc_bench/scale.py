"""Several OS processes on one store: status walks and a claim race.

Each (backend, process count) gets a fresh store. The parent registers every
round's invocations, then starts the workers (``spawn``); a barrier starts each
phase in all workers at once, and each phase ends after ``seconds`` or when the
worker's invocations run out.

* walk: every worker takes its own invocations REGISTERED -> PENDING -> RUNNING
  -> SUCCESS; any exception is an error.
* race: all workers try REGISTERED -> PENDING with their own runner id on the
  same invocations in the same order; pynenc's ``InvocationStatusError`` family
  marks a lost claim, anything else is an error. Exactly one winner per
  attempted invocation is expected.
"""

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from pynenc.exceptions import InvocationStatusError
from pynenc.invocation.status import InvocationStatus

from pynenc_bench.backends import Handle, Subject
from pynenc_bench.timing import measure, percentile
from pynenc_contract.workers import BARRIER_TIMEOUT_SECONDS, WorkerError, run_workers

PROCESS_COUNTS = (1, 2, 4, 8)
WALK = (InvocationStatus.PENDING, InvocationStatus.RUNNING, InvocationStatus.SUCCESS)
_KEPT_ERRORS = 3


@dataclass
class PhaseResult:
    """What one worker saw in one phase."""

    latencies: list[float]
    start: float
    end: float
    attempts: int
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    won: list[str] = field(default_factory=list)


@dataclass
class PhaseSummary:
    """One phase over all workers of one round."""

    ops_per_s: float
    p50: float
    p99: float
    attempts: int
    errors: int
    error_samples: list[str]
    wins: int = 0
    double_claims: int = 0
    unclaimed: int = 0
    wrong_owner: int = 0


def _run_phase(
    handle: Handle, runner_id: str, steps: Sequence[tuple[str, Any]], *, race: bool, seconds: float
) -> PhaseResult:
    transition = handle.orchestrator._atomic_status_transition
    result = PhaseResult([], 0.0, 0.0, 0)

    def attempt(step: tuple[str, InvocationStatus]) -> None:
        try:
            transition(step[0], step[1], runner_id)
        except InvocationStatusError as error:
            if not race:
                _record_error(result, error)
            return
        except Exception as error:  # counted and reported, never fatal here
            _record_error(result, error)
            return
        if race:
            result.won.append(step[0])

    timing = measure(attempt, steps, max_seconds=seconds)
    result.latencies, result.start, result.end = timing.latencies, timing.start, timing.end
    result.attempts = timing.calls
    return result


def _record_error(result: PhaseResult, error: BaseException) -> None:
    result.errors += 1
    if len(result.error_samples) < _KEPT_ERRORS:
        result.error_samples.append(f"{type(error).__name__}: {error}"[:300])


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process runs: its own walk ids and the shared race ids per round."""

    subject: Subject
    workdir: Path
    app_id: str
    index: int
    seconds: float
    walks: list[list[str]]
    races: list[list[str]]


def worker_main(job: WorkerJob, barrier: Barrier) -> list[tuple[PhaseResult, PhaseResult]]:
    """One worker process: every round's walk and race, each started with the others."""
    handle = job.subject.open(job.workdir, job.app_id)
    runner_id = f"runner-{job.index}"
    rounds = []
    for walk_ids, race_ids in zip(job.walks, job.races, strict=True):
        barrier.wait(BARRIER_TIMEOUT_SECONDS)
        walk = _run_phase(
            handle,
            runner_id,
            [(i, s) for i in walk_ids for s in WALK],
            race=False,
            seconds=job.seconds,
        )
        barrier.wait(BARRIER_TIMEOUT_SECONDS)
        race = _run_phase(
            handle,
            runner_id,
            [(i, InvocationStatus.PENDING) for i in race_ids],
            race=True,
            seconds=job.seconds,
        )
        rounds.append((walk, race))
    handle.close()
    return rounds


def run_scale(
    subject: Subject,
    workdir: Path,
    *,
    processes: int,
    rounds: int,
    seconds: float,
    walk_pool: int,
    race_pool: int,
) -> list[dict[str, PhaseSummary]]:
    """Run ``rounds`` rounds with ``processes`` workers; one summary dict per round."""
    app_id = f"scale-{subject.label}-p{processes}-{uuid.uuid4().hex[:8]}"
    handle = subject.open(workdir, app_id)
    walks: list[list[list[str]]] = [[] for _ in range(processes)]
    races: list[list[str]] = []
    for _ in range(rounds):
        walk_ids = _register(handle, walk_pool - walk_pool % processes)
        share = len(walk_ids) // processes
        for index in range(processes):
            walks[index].append(walk_ids[index * share : (index + 1) * share])
        races.append(_register(handle, race_pool))
    jobs = [
        WorkerJob(subject, workdir, app_id, index, seconds, walks[index], races)
        for index in range(processes)
    ]
    try:
        reports = run_workers(
            worker_main,
            jobs,
            timeout=BARRIER_TIMEOUT_SECONDS + rounds * (2 * seconds + BARRIER_TIMEOUT_SECONDS),
            name=f"bench-{subject.label}",
        )
        summaries = []
        for round_index in range(rounds):
            per_worker = [report[round_index] for report in reports]
            summaries.append(
                {
                    "walk": _summarize([walk for walk, _ in per_worker], ops_per_attempt=1),
                    "race": _verify_race(handle, races[round_index], per_worker),
                }
            )
    except WorkerError as error:
        raise RuntimeError(f"{subject.label} with {processes} processes: {error}") from None
    finally:
        handle.close()
    return summaries


def _register(handle: Handle, count: int) -> list[str]:
    invocations = handle.invocations(count)
    for first in range(0, count, 500):
        handle.orchestrator._register_new_invocations(invocations[first : first + 500], "parent")
    return [inv.invocation_id for inv in invocations]


def _summarize(phases: Sequence[PhaseResult], ops_per_attempt: int) -> PhaseSummary:
    latencies = [latency for phase in phases for latency in phase.latencies]
    attempts = sum(phase.attempts for phase in phases)
    busy = max(phase.end for phase in phases) - min(phase.start for phase in phases)
    return PhaseSummary(
        ops_per_s=attempts * ops_per_attempt / busy if busy > 0 else 0.0,
        p50=percentile(latencies, 0.50),
        p99=percentile(latencies, 0.99),
        attempts=attempts,
        errors=sum(phase.errors for phase in phases),
        error_samples=[sample for phase in phases for sample in phase.error_samples][:_KEPT_ERRORS],
    )


def _verify_race(
    handle: Handle, race_ids: list[str], per_worker: Sequence[tuple[PhaseResult, PhaseResult]]
) -> PhaseSummary:
    """Count winners per attempted invocation and check the stored owner of a sample."""
    races = [race for _, race in per_worker]
    summary = _summarize(races, ops_per_attempt=1)
    winners: dict[str, list[int]] = {}
    for index, race in enumerate(races):
        for invocation_id in race.won:
            winners.setdefault(invocation_id, []).append(index)
    attempted = race_ids[: max(race.attempts for race in races)]
    counts = Counter(len(winners.get(invocation_id, ())) for invocation_id in attempted)
    summary.wins = sum(len(indexes) for indexes in winners.values())
    summary.double_claims = sum(count for wins, count in counts.items() if wins > 1)
    summary.unclaimed = counts.get(0, 0)
    orchestrator = handle.orchestrator
    for invocation_id in attempted[:: max(1, len(attempted) // 200)]:
        record = orchestrator.get_invocation_status_record(invocation_id)
        owners = winners.get(invocation_id, [])
        expected = f"runner-{owners[0]}" if len(owners) == 1 else None
        if record.status != InvocationStatus.PENDING or record.runner_id != expected:
            summary.wrong_owner += 1
    return summary

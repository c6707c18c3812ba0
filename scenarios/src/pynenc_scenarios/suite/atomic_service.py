"""Atomic service: one runner at a time, and no runner can block it forever.

Three runners share the atomic service (trigger processing and recovery) on a
3-second cycle; each run is lengthened by 0.3 s inside the runner, and its body is
probed (see app_template.py), so that windows are wide and a runner can be hit while
it holds the service. Once a few runs completed, the scenario hits the runner the
moment it holds the service: the default case SIGKILLs its whole group, leaving its
RUNNING record behind; the ``pause`` case stops the group (SIGSTOP, the nemesis)
until another runner has run the service past the dead timeout, then continues it
the moment another runner's run begins.

Invariants: recorded execution windows of different runners never overlap (from the
orchestrator's atomic-service records); a runner other than the hit one completes
the service again after the dead timeout; no "database is locked". The pause case
also checks, from the probes, that the continued holder's body does not run
alongside another runner's, and measures by how much it does: pynenc's runner
finishes a run it was paused in without asking whether it still holds the service
(pynenc-17).
"""

import signal
import time
from collections import Counter

from pynenc.orchestrator.atomic_service import (
    AtomicServiceExecution,
    AtomicServiceExecutionStatus,
)

from pynenc_contract import Check
from pynenc_scenarios.appenv import BASE_CONFIG, AppEnv, app_env
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import check_no_locked, overlaps
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.processes import ManagedProcess
from pynenc_scenarios.records import Execution
from pynenc_scenarios.scenario import Scenario

NAME = "atomic_service"
RUNNERS = 3
SERVICE_DELAY = 0.3
DEAD_AFTER_MINUTES = 0.05
CYCLE_SECONDS = BASE_CONFIG["atomic_service_interval_minutes"] * 60


def plan(opts: Options) -> list[Case]:
    """A kill case per runner type (the service runs in runner parents); a pause case
    for every one (the quick form: the first)."""
    paused = opts.runners[:1] if opts.quick else opts.runners
    return [
        Case(
            NAME,
            runner,
            opts.backend.name,
            variant,
            params={
                "runners": RUNNERS,
                "observe_runs": 4 if opts.quick else 10,
                "service_delay_s": SERVICE_DELAY,
                "dead_after_minutes": DEAD_AFTER_MINUTES,
            },
        )
        for runner in opts.runners
        for variant in ("", *(["pause"] if runner in paused else []))
    ]


def _overlapping(executions: list[AtomicServiceExecution], now: float) -> list[str]:
    """Overlapping windows of different runners (BLOCKED rows did no work, skipped)."""
    windows = [
        (
            f"{e.runner_id[:8]}:{e.status.value}",
            e.start_time.timestamp(),
            e.end_time.timestamp() if e.end_time else now,
        )
        for e in executions
        if e.status != AtomicServiceExecutionStatus.BLOCKED
    ]
    return [
        f"{first} until {seconds:.6f}s after {second} started"
        for first, second, seconds in overlaps(windows, _runner_of)
    ]


def _runner_of(label: str) -> str:
    return label.partition(":")[0]


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Observe, kill or pause the holder, observe the service resume, check the windows."""
    dead_seconds = DEAD_AFTER_MINUTES * 60
    config = {"runner_considered_dead_after_minutes": DEAD_AFTER_MINUTES}
    delay = {"SCENARIO_ATOMIC_SERVICE_DELAY": str(SERVICE_DELAY)}
    paused = case.variant == "pause"
    with app_env(case, opts, result, config=config, runner_env=delay) as env:
        begin = time.time()
        runners = [env.start_identified_runner() for _ in range(RUNNERS)]
        _wait_completed_runs(env, begin, case.params["observe_runs"], CYCLE_SECONDS)
        victim, held_run = _holder(env, runners, timeout=4 * CYCLE_SECONDS)
        hit_at = time.time()
        resume_timeout = dead_seconds + 3 * CYCLE_SECONDS
        if paused:
            with result.nemesis.paused(victim):
                resumed = _wait_resumed(env, victim.runner_id, hit_at, resume_timeout)
                if resumed is not None:  # continue it as another runner's body starts
                    _holder(env, [r for r in runners if r is not victim], 4 * CYCLE_SECONDS)
            env.wait_bodies_ended(
                lambda runs: _service_bodies(runs, env, victim.runner_id),
                "the continued holder's service run",
            )
            result.metrics["paused_seconds"] = round(result.nemesis.faults[0].seconds, 1)
        else:
            victim.signal_group(signal.SIGKILL)
            resumed = _wait_resumed(env, victim.runner_id, hit_at, resume_timeout)
        env.stop_all()
        now = time.time()
        executions = env.atomic_executions(begin)
        overlapping = _overlapping(executions, now)
        runs = sum(1 for e in executions if e.status != AtomicServiceExecutionStatus.BLOCKED)
        before = Counter(
            e.runner_id
            for e in executions
            if e.status == AtomicServiceExecutionStatus.COMPLETED
            and e.start_time.timestamp() < hit_at
        )
        held = next((e for e in executions if e.atomic_service_run_id == held_run), None)
        result.metrics.update(
            runs=runs,
            blocked=len(executions) - runs,
            runs_per_runner="/".join(str(before[r.runner_id]) for r in runners),
            resumed_after_s=round(resumed - hit_at, 1) if resumed else "never",
            stale_record=f"{held.status.value if held else 'purged'}",
        )
        result.add(
            Check(
                "windows of different runners never overlap",
                not overlapping,
                f"{runs} runs, {len(overlapping)} overlapping pairs {overlapping[:2]}",
            )
        )
        hit = "paused" if paused else "killed"
        result.add(
            Check(
                "service resumes after its holder is paused"
                if paused
                else "service resumes after its holder is killed",
                resumed is not None,
                f"resumed {f'{resumed - hit_at:.1f}s' if resumed else 'never'} after the "
                f"holder was {hit} (dead timeout {dead_seconds:g}s); the holder's record is "
                f"now {result.metrics['stale_record']}",
            )
        )
        if paused and resumed is not None:
            _check_overlap_after_resume(env, result, victim)
        result.add(check_no_locked(env.logs(), result.metrics))


def _check_overlap_after_resume(env: AppEnv, result: CaseResult, victim: ManagedProcess) -> None:
    """The continued holder's service body must not run while another runner's does
    (from the probes); it was continued as another runner's body started."""
    (pause,) = result.nemesis.faults
    now = time.time()
    bodies = _service_bodies(env.probes(), env)
    after_resume = [
        (str(b.pid), max(b.start, pause.end), b.end or now)
        for b in bodies
        if b.runner_id == victim.runner_id and (b.end or now) > pause.end
    ]
    others = [
        (str(b.pid), b.start, b.end or now) for b in bodies if b.runner_id != victim.runner_id
    ]
    overlapping = overlaps([*after_resume, *others])
    longest = max((seconds for _, _, seconds in overlapping), default=0.0)
    result.metrics["overlap_after_resume_s"] = round(longest, 3)
    result.add(
        Check(
            "a continued holder's service body never runs alongside another runner's",
            not overlapping,
            f"it ran {longest:.3f}s alongside another runner's run" if overlapping else "never",
        )
    )


def _service_bodies(
    runs: list[Execution], env: AppEnv, runner_id: str | None = None
) -> list[Execution]:
    """The atomic-service bodies among probed ``runs`` (of ``runner_id`` only, if given)."""
    key = env.module.ATOMIC_SERVICE_KEY
    return [r for r in runs if r.key == key and runner_id in (None, r.runner_id)]


def _wait_completed_runs(env: AppEnv, since: float, count: int, cycle_seconds: float) -> None:
    """Observe the service until ``count`` runs completed (about one per runner a cycle)."""
    deadline = time.time() + 4 * count * cycle_seconds
    while time.time() < deadline:
        completed = sum(
            1
            for e in env.atomic_executions(since)
            if e.status == AtomicServiceExecutionStatus.COMPLETED
        )
        if completed >= count:
            return
        time.sleep(0.25)
    raise TimeoutError(f"fewer than {count} atomic-service runs completed")


def _holder(
    env: AppEnv, runners: list[ManagedProcess], timeout: float
) -> tuple[ManagedProcess, str]:
    """The runner holding the service, early in its body (its probe started less than
    a third of the service delay ago), and its run id."""
    by_id = {runner.runner_id: runner for runner in runners}
    deadline = time.time() + timeout
    while time.time() < deadline:
        early = {
            b.runner_id
            for b in _service_bodies(env.probes(), env)
            if b.end is None and time.time() - b.start < SERVICE_DELAY / 3
        }
        for execution in env.app.orchestrator.get_active_atomic_service_executions():
            if execution.runner_id in early and (runner := by_id.get(execution.runner_id)):
                return runner, execution.atomic_service_run_id
        time.sleep(0.02)
    raise TimeoutError(f"no runner held the atomic service within {timeout:g}s")


def _wait_resumed(env: AppEnv, victim: str, since: float, timeout: float) -> float | None:
    """Start time of the first run completed by another runner after ``since``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        starts = [
            e.start_time.timestamp()
            for e in env.atomic_executions(since)
            if e.runner_id != victim
            and e.start_time.timestamp() > since
            and e.status == AtomicServiceExecutionStatus.COMPLETED
        ]
        if starts:
            return min(starts)
        time.sleep(0.25)
    return None


SCENARIO = Scenario(
    plan,
    run,
    headline=(
        "resumed_after_s",
        "runs",
        "blocked",
        "runs_per_runner",
        "stale_record",
        "paused_seconds",
        "overlap_after_resume_s",
    ),
    quick_runners=("ThreadRunner",),
)

"""Atomic service: one runner at a time, and no runner can block it forever.

Three runners share the atomic service (trigger processing and recovery) on a
3-second cycle; each run is lengthened by 0.3 s inside the runner (see
app_template.py) so that windows are wide and a runner can be killed while it
holds the service. Once a few runs completed, the scenario SIGKILLs (whole group) the
runner the moment it holds the service, leaving its RUNNING record behind.

Invariants: execution windows of different runners never overlap (from the
orchestrator's atomic-service records); a runner other than the killed one
completes the service again after the dead timeout; no "database is locked".
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
from pynenc_scenarios.scenario import Scenario

NAME = "atomic_service"
RUNNERS = 3
SERVICE_DELAY = 0.3
DEAD_AFTER_MINUTES = 0.05
CYCLE_SECONDS = BASE_CONFIG["atomic_service_interval_minutes"] * 60


def plan(opts: Options) -> list[Case]:
    """One case per runner type (the service runs in runner parents)."""
    return [
        Case(
            NAME,
            runner,
            opts.backend.name,
            params={
                "runners": RUNNERS,
                "observe_runs": 4 if opts.quick else 10,
                "service_delay_s": SERVICE_DELAY,
                "dead_after_minutes": DEAD_AFTER_MINUTES,
            },
        )
        for runner in opts.runners
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
    """Observe, kill the holder, observe recovery, check the windows."""
    dead_seconds = DEAD_AFTER_MINUTES * 60
    config = {"runner_considered_dead_after_minutes": DEAD_AFTER_MINUTES}
    delay = {"SCENARIO_ATOMIC_SERVICE_DELAY": str(SERVICE_DELAY)}
    with app_env(case, opts, result, config=config, runner_env=delay) as env:
        begin = time.time()
        runners = [env.start_identified_runner() for _ in range(RUNNERS)]
        _wait_completed_runs(env, begin, case.params["observe_runs"], CYCLE_SECONDS)
        victim, held_run = _kill_holder(env, runners, timeout=4 * CYCLE_SECONDS)
        killed_at = time.time()
        resumed = _wait_resumed(
            env, victim.runner_id, killed_at, timeout=dead_seconds + 3 * CYCLE_SECONDS
        )
        env.stop_all()
        now = time.time()
        executions = env.atomic_executions(begin)
        overlapping = _overlapping(executions, now)
        runs = sum(1 for e in executions if e.status != AtomicServiceExecutionStatus.BLOCKED)
        before = Counter(
            e.runner_id
            for e in executions
            if e.status == AtomicServiceExecutionStatus.COMPLETED
            and e.start_time.timestamp() < killed_at
        )
        held = next((e for e in executions if e.atomic_service_run_id == held_run), None)
        result.metrics.update(
            runs=runs,
            blocked=len(executions) - runs,
            runs_per_runner="/".join(str(before[r.runner_id]) for r in runners),
            resumed_after_s=round(resumed - killed_at, 1) if resumed else "never",
            stale_record=f"{held.status.value if held else 'purged'}",
        )
        result.add(
            Check(
                "windows of different runners never overlap",
                not overlapping,
                f"{runs} runs, {len(overlapping)} overlapping pairs {overlapping[:2]}",
            )
        )
        result.add(
            Check(
                "service resumes after its holder is killed",
                resumed is not None,
                f"resumed {f'{resumed - killed_at:.1f}s' if resumed else 'never'} after the kill "
                f"(dead timeout {dead_seconds:g}s); the holder's record is now "
                f"{result.metrics['stale_record']}",
            )
        )
        result.add(check_no_locked(env.logs(), result.metrics))


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


def _kill_holder(
    env: AppEnv, runners: list[ManagedProcess], timeout: float
) -> tuple[ManagedProcess, str]:
    """SIGKILL the group of the runner holding the service; its run id."""
    by_id = {runner.runner_id: runner for runner in runners}
    deadline = time.time() + timeout
    while time.time() < deadline:
        for execution in env.app.orchestrator.get_active_atomic_service_executions():
            if (runner := by_id.get(execution.runner_id)) is not None:
                runner.signal_group(signal.SIGKILL)
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
    headline=("resumed_after_s", "runs", "blocked", "runs_per_runner", "stale_record"),
    quick_runners=("ThreadRunner",),
)

"""Clock jump: the host's wall clock steps forward by minutes while bodies run, as after
a suspend or an NTP step, then steps back.

Three runners (2 slots each) run 4 tasks of 6 s and share the atomic service on a
3-second cycle (each run lengthened by 0.3 s, its body probed), with a 3-second dead
timeout and the recovery crons on. Every runner process and worker follows one shared
clock file (see app_template.py); the nemesis steps it by +300 s while the 4 bodies
run, so that the recovery crons fire at once and every heartbeat stored before the
step looks 300 s old. Once every task has ended, it steps the clock back by 20 s.
``time.monotonic`` does not move, as on a real host; probes record the host's time.

Invariants: every task ends SUCCESS; no body ran more than once (a forward step must
not make live runners look dead); histories replay; service bodies of different
runners never overlap (from the probes: at most one holder); the service runs again
within the back step and four cycles after the clock stepped back (it must not stall
forever); no "database is locked".
"""

import time

from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceExecutionStatus

from pynenc_contract import Check
from pynenc_scenarios.appenv import BASE_CONFIG, AppEnv, app_env
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import (
    check_all_succeeded,
    check_histories_replay,
    check_no_duplicates,
    check_no_locked,
    overlaps,
)
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.scenario import Scenario

NAME = "clock_jump"
RUNNERS = 3
TASKS = 4
TASK_SECONDS = 6.0
FORWARD_SECONDS = 300.0
BACK_SECONDS = 20.0
SERVICE_DELAY = 0.3
DEAD_AFTER_MINUTES = 0.05
CYCLE_SECONDS = BASE_CONFIG["atomic_service_interval_minutes"] * 60
#: How far ahead of this process the runners' records may be (they follow the clock).
AHEAD = FORWARD_SECONDS + 60


def plan(opts: Options) -> list[Case]:
    """One case per runner type."""
    return opts.case_per_runner(
        NAME,
        runners=RUNNERS,
        tasks=TASKS,
        task_seconds=TASK_SECONDS,
        forward_s=FORWARD_SECONDS,
        back_s=BACK_SECONDS,
        dead_after_minutes=DEAD_AFTER_MINUTES,
    )


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Step the clock forward while bodies run, then back once they ended; check."""
    config = {"runner_considered_dead_after_minutes": DEAD_AFTER_MINUTES}
    with app_env(case, opts, result, config=config) as env:
        clock = env.workdir / "clock"
        env.runner_env.update(
            SCENARIO_CLOCK_FILE=str(clock), SCENARIO_ATOMIC_SERVICE_DELAY=str(SERVICE_DELAY)
        )
        begin = time.time()
        for _ in range(RUNNERS):
            env.start_identified_runner()
        ids = [env.module.work(i, TASK_SECONDS).invocation_id for i in range(TASKS)]
        _wait_bodies_running(env, set(ids), timeout=60)
        result.nemesis.step_clock(clock, FORWARD_SECONDS)
        wait = env.wait_final(["work"], TASKS, timeout=90, stall=60)
        known = {e.atomic_service_run_id for e in env.atomic_executions(begin, AHEAD)}
        result.nemesis.step_clock(clock, -BACK_SECONDS)
        stepped_back = time.monotonic()
        limit = BACK_SECONDS + 4 * CYCLE_SECONDS
        resumed = _wait_new_run(env, begin, known, timeout=limit)
        resumed_after = None if resumed is None else resumed - stepped_back
        env.stop_all()

        runs = [r for r in env.probes() if r.invocation_id in set(ids)]
        histories = env.histories(["work"])
        recovered = sum(
            1
            for i in ids
            for e in histories.get(i, [])
            if e.status is InvocationStatus.RUNNING_RECOVERY
        )
        result.metrics.update(
            recovered=recovered,
            ran_twice=sum(1 for i in ids if sum(r.invocation_id == i for r in runs) > 1),
            resumed_after_back_step_s="never" if resumed_after is None else round(resumed_after, 1),
        )
        result.notes.append(f"wait: {wait.describe()}")
        result.add(check_all_succeeded(env, ["work"], TASKS))
        result.add(check_no_duplicates(runs, ids))
        result.add(check_histories_replay(histories, ids))
        result.add(_check_one_holder(env, result))
        result.add(
            Check(
                "the service runs again after the clock stepped back",
                resumed_after is not None,
                f"a new run completed {resumed_after:.1f}s after a {BACK_SECONDS:g}s back step"
                if resumed_after is not None
                else f"no new run completed within {limit:g}s of a {BACK_SECONDS:g}s back step",
            )
        )
        result.add(check_no_locked(env.logs(), result.metrics))


def _wait_bodies_running(env: AppEnv, ids: set[str], timeout: float) -> None:
    """Wait until the body of every invocation of ``ids`` runs (its probe started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = {r.invocation_id for r in env.probes() if r.end is None}
        if ids <= running:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the {len(ids)} bodies did not all run within {timeout:g}s")


def _wait_new_run(env: AppEnv, since: float, known: set[str], timeout: float) -> float | None:
    """When (``time.monotonic``) a service run not in ``known`` is seen COMPLETED."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(
            e.atomic_service_run_id not in known
            and e.status == AtomicServiceExecutionStatus.COMPLETED
            for e in env.atomic_executions(since, AHEAD)
        ):
            return time.monotonic()
        time.sleep(0.1)
    return None


def _check_one_holder(env: AppEnv, result: CaseResult) -> Check:
    """Service bodies of different runners never overlap, in the host's time (probes)."""
    now = time.time()
    bodies = [
        (b.runner_id, b.start, b.end or now)
        for b in env.probes()
        if b.key == env.module.ATOMIC_SERVICE_KEY
    ]
    overlapping = overlaps(bodies)
    longest = max((seconds for _, _, seconds in overlapping), default=0.0)
    result.metrics["service_runs"] = len(bodies)
    result.metrics["service_overlap_s"] = round(longest, 3)
    return Check(
        "windows of different runners never overlap",
        not overlapping,
        f"{len(bodies)} service bodies, {len(overlapping)} overlapping pairs"
        + (f", the longest {longest:.3f}s" if overlapping else ""),
    )


SCENARIO = Scenario(
    plan,
    run,
    headline=(
        "ran_twice",
        "recovered",
        "resumed_after_back_step_s",
        "service_runs",
        "service_overlap_s",
    ),
    quick_runners=(),
)

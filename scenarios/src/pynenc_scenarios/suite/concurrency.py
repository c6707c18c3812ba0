"""Running concurrency control (TASK and KEYS) across runner processes.

Variant ``task``: ``exclusive_task`` has ``running_concurrency=TASK``, so at most
one of its invocations may be RUNNING at any time. Variant ``keys``:
``keyed_task`` has ``running_concurrency=KEYS`` on ``key`` (3 keys), so at most
one RUNNING per key. Both reroute when controlled, so every invocation must
eventually run. Two runners with 2 slots each get all invocations at once.

pynenc checks running concurrency in one orchestrator call and writes PENDING or
RUNNING in a later one; the runners pause 0.15 s between the two (as a busy
machine may), which makes the race deterministic. An orchestrator that checks
inside its own RUNNING transition is immune to that pause.

Variant ``pause`` (``exclusive_task``; the quick form: the first runner type):
one runner starts alone and runs an invocation; its process group is stopped
(SIGSTOP, the nemesis) past the dead timeout, a second runner starts, the
scenario recovers the paused runner's invocation (pynenc's recovery code, as
``crash_recovery`` does) and the second runner runs it and the rest. The paused
runner is continued while the second runs a body; its own body then runs on
alongside (pynenc-15), but no RUNNING of it may be stored over the new owner's.

Invariants: every invocation ends SUCCESS; from the status histories, no two
RUNNING periods of the same key overlap; the same from the task bodies' own
probes; histories replay; no "database is locked" in the logs.
"""

import time
from collections import Counter, defaultdict
from collections.abc import Callable

from pynenc_contract import Check
from pynenc_scenarios.appenv import SCHEDULER_OFF, AppEnv, app_env
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import (
    check_all_succeeded,
    check_histories_replay,
    check_no_locked,
    overlaps,
    running_intervals,
)
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.records import Wait
from pynenc_scenarios.scenario import Scenario

NAME = "concurrency"
RUNNERS, SLOTS, TASK_SECONDS = 2, 2, 0.2
#: Pause between pynenc's concurrency check and its next status write (see app_template).
CHECK_DELAY = 0.15
VARIANTS = {
    "task": ("exclusive_task", 1),
    "keys": ("keyed_task", 3),
    "pause": ("exclusive_task", 1),
}
#: The pause variant: few longer tasks, so that the paused body has work left.
PAUSE_TASKS, PAUSE_TASK_SECONDS = 3, 2.0
DEAD_AFTER_MINUTES = 0.05


def plan(opts: Options) -> list[Case]:
    """``task`` for every runner type; ``keys`` and ``pause`` for every one too (--quick:
    for the first type only)."""
    per_key = 6 if opts.quick else 12
    return [
        Case(
            NAME,
            runner,
            opts.backend.name,
            variant,
            params={
                "task": task,
                "keys": keys,
                "per_key": PAUSE_TASKS if variant == "pause" else per_key,
                "task_seconds": PAUSE_TASK_SECONDS if variant == "pause" else TASK_SECONDS,
            },
        )
        for position, runner in enumerate(opts.runners)
        for variant, (task, keys) in VARIANTS.items()
        if not (opts.quick and variant != "task" and position)
    ]


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Submit everything at once, run (pausing a runner in the ``pause`` variant), wait,
    compare RUNNING periods per key."""
    task, keys, per_key = case.params["task"], case.params["keys"], case.params["per_key"]
    total = keys * per_key
    seconds = case.params["task_seconds"]
    delay = {"SCENARIO_CONCURRENCY_CHECK_DELAY": str(CHECK_DELAY)}
    paused = case.variant == "pause"
    config = (
        {"runner_considered_dead_after_minutes": DEAD_AFTER_MINUTES, **SCHEDULER_OFF}
        if paused
        else {}
    )
    with app_env(case, opts, result, slots=SLOTS, runner_env=delay, config=config) as env:
        function = getattr(env.module, task)
        key_of: dict[str, str] = {}
        for index in range(total):
            key = f"k{index % keys}"
            invocation = (
                function(key, index, seconds)
                if case.variant == "keys"
                else function(index, seconds)
            )
            key_of[invocation.invocation_id] = key if case.variant == "keys" else "task"
        timeout = 120 if opts.quick else 300
        if paused:
            wait = _run_with_a_pause(env, result, task, total, timeout)
        else:
            env.start_runners(RUNNERS)
            wait = env.wait_final([task], total, timeout=timeout, stall=30)
        env.stop_all()
        until = time.time()
        histories = env.histories([task])
        ids = env.invocation_ids(task)
        by_key: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for interval in running_intervals(histories, ids, until):
            by_key[key_of.get(interval[0], "?")].append(interval)
        history_overlaps = [o for intervals in by_key.values() for o in overlaps(intervals)]
        probe_by_key: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for run_ in env.probes():  # one invocation's body in two processes counts too
            label = f"{run_.invocation_id} in pid {run_.pid}"
            probe_by_key[run_.key].append((label, run_.start, run_.end or until))
        body_overlaps = [o for intervals in probe_by_key.values() for o in overlaps(intervals)]
        statuses = Counter(e.status.value for i in ids for e in histories.get(i, []))
        result.notes.append(f"wait: {wait.describe()}")
        result.metrics.update(
            seconds=round(wait.seconds, 1),
            running_overlaps=len(history_overlaps),
            body_overlaps=len(body_overlaps),
            max_overlap_s=round(max((o[2] for o in history_overlaps), default=0.0), 3),
            max_body_overlap_s=round(max((o[2] for o in body_overlaps), default=0.0), 3),
            reroutes=statuses["rerouted"],
        )
        result.add(check_all_succeeded(env, [task], total))
        result.add(
            Check(
                "never two RUNNING at once for the same key (histories)",
                not history_overlaps,
                f"{len(history_overlaps)} overlapping RUNNING pairs; longest "
                f"{result.metrics['max_overlap_s']}s",
            )
        )
        result.add(
            Check(
                "never two bodies at once for the same key (probes)",
                not body_overlaps,
                f"{len(body_overlaps)} overlapping executions; longest "
                f"{result.metrics['max_body_overlap_s']}s",
            )
        )
        result.add(check_histories_replay(histories, ids))
        result.add(check_no_locked(env.logs(), result.metrics))


def _run_with_a_pause(
    env: AppEnv, result: CaseResult, task: str, total: int, timeout: float
) -> Wait:
    """Pause the first runner early in a body past the dead timeout; a second runner
    takes over once the invocation is recovered (by the scenario too, once past the
    dead timeout); continue the first as the second starts a body; wait for every
    invocation and for the continued body's end."""
    dead_seconds = DEAD_AFTER_MINUTES * 60
    victim = env.start_identified_runner()
    _wait_body(env, victim.runner_id, timeout)
    with result.nemesis.paused(victim):
        paused_at = time.time()
        survivor = env.start_identified_runner()

        def recover() -> None:
            if time.time() - paused_at > dead_seconds + 0.5:
                env.recover_now()

        _wait_body(env, survivor.runner_id, timeout, recover)
    wait = env.wait_final([task], total, timeout=timeout, stall=30)
    result.metrics["paused_seconds"] = round(result.nemesis.faults[0].seconds, 1)
    env.wait_bodies_ended(
        lambda runs: env.bodies_on(runs, victim.runner_id), "the continued runner's body", timeout
    )
    return wait


def _wait_body(
    env: AppEnv, runner: str, timeout: float, on_tick: Callable[[], None] = lambda: None
) -> None:
    """Wait until a body on ``runner`` (or its workers) has just started (its probe, less
    than 0.5 s ago), calling ``on_tick`` between looks."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        started = env.bodies_on((r for r in env.probes() if r.end is None), runner)
        if any(time.time() - r.start < 0.5 for r in started):
            return
        on_tick()
        time.sleep(0.05)
    raise TimeoutError(f"no body started within {timeout:g}s")


SCENARIO = Scenario(
    plan,
    run,
    headline=(
        "running_overlaps",
        "body_overlaps",
        "seconds",
        "max_overlap_s",
        "max_body_overlap_s",
        "reroutes",
        "paused_seconds",
    ),
)

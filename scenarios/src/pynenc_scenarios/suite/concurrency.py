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

Invariants: every invocation ends SUCCESS; from the status histories, no two
RUNNING periods of the same key overlap; the same from the task bodies' own
probes; histories replay; no "database is locked" in the logs.
"""

import time
from collections import Counter, defaultdict

from pynenc_contract import Check
from pynenc_scenarios.appenv import app_env
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import (
    check_all_succeeded,
    check_histories_replay,
    check_no_locked,
    overlaps,
    running_intervals,
)
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.scenario import Scenario

NAME = "concurrency"
RUNNERS, SLOTS, TASK_SECONDS = 2, 2, 0.2
#: Pause between pynenc's concurrency check and its next status write (see app_template).
CHECK_DELAY = 0.15
VARIANTS = {"task": ("exclusive_task", 1), "keys": ("keyed_task", 3)}


def plan(opts: Options) -> list[Case]:
    """Both variants for every runner type (--quick: ``keys`` for the first type only)."""
    per_key = 6 if opts.quick else 12
    return [
        Case(
            NAME,
            runner,
            opts.backend.name,
            variant,
            params={"task": task, "keys": keys, "per_key": per_key, "task_seconds": TASK_SECONDS},
        )
        for position, runner in enumerate(opts.runners)
        for variant, (task, keys) in VARIANTS.items()
        if not (opts.quick and variant == "keys" and position)
    ]


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Submit everything at once, wait, compare RUNNING periods per key."""
    task, keys, per_key = case.params["task"], case.params["keys"], case.params["per_key"]
    total = keys * per_key
    delay = {"SCENARIO_CONCURRENCY_CHECK_DELAY": str(CHECK_DELAY)}
    with app_env(case, opts, result, slots=SLOTS, runner_env=delay) as env:
        function = getattr(env.module, task)
        key_of: dict[str, str] = {}
        for index in range(total):
            key = f"k{index % keys}"
            invocation = (
                function(key, index, TASK_SECONDS)
                if case.variant == "keys"
                else function(index, TASK_SECONDS)
            )
            key_of[invocation.invocation_id] = key if case.variant == "keys" else "task"
        env.start_runners(RUNNERS)
        wait = env.wait_final([task], total, timeout=120 if opts.quick else 300, stall=30)
        env.stop_all()
        until = time.time()
        histories = env.histories([task])
        ids = env.invocation_ids(task)
        by_key: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for interval in running_intervals(histories, ids, until):
            by_key[key_of.get(interval[0], "?")].append(interval)
        history_overlaps = [o for intervals in by_key.values() for o in overlaps(intervals)]
        probe_by_key: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for run_ in env.probes():
            probe_by_key[run_.key].append((run_.invocation_id, run_.start, run_.end or until))
        body_overlaps = [o for intervals in probe_by_key.values() for o in overlaps(intervals)]
        statuses = Counter(e.status.value for i in ids for e in histories.get(i, []))
        result.notes.append(f"wait: {wait.describe()}")
        result.metrics.update(
            seconds=round(wait.seconds, 1),
            running_overlaps=len(history_overlaps),
            body_overlaps=len(body_overlaps),
            max_overlap_s=round(max((o[2] for o in history_overlaps), default=0.0), 3),
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
                f"{len(body_overlaps)} overlapping executions",
            )
        )
        result.add(check_histories_replay(histories, ids))
        result.add(check_no_locked(env.logs(), result.metrics))


SCENARIO = Scenario(
    plan,
    run,
    headline=("running_overlaps", "body_overlaps", "seconds", "max_overlap_s", "reroutes"),
)

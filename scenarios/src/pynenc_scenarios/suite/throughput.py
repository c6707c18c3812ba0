"""Throughput and soak: a thousand tasks across 1, 2 and 4 runner processes.

All 1000 ``noop`` tasks (300 in the quick form) are registered in one batch,
then 1, 2 or 4 runners (8 slots each) start and drain them. tasks/s counts from
the first RUNNING to the last SUCCESS in the status histories (runner start-up
excluded).

With ``--stored N``, each case measures what a store that keeps its history costs,
on the same runners: they start first, then drain three batches of the tasks
registered as they run, on the empty store (``empty_tasks_per_s``: the median);
then N final invocations of another task are stored (``fill_s``), and three more
batches are drained (``tasks_per_s``: the median), with ``stored_ratio`` of the
two. The case's label names N.

Invariants: every task ends SUCCESS (none lost); each ran exactly once (one
RUNNING per history); histories replay; no "database is locked" anywhere in
the runner logs.
"""

import time
from statistics import median

from pynenc.invocation.status import InvocationStatus

from pynenc_contract import Check
from pynenc_scenarios.appenv import AppEnv, app_env, effective_slots
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import check_all_succeeded, check_histories_replay, check_no_locked
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.scenario import Scenario

NAME = "throughput"
RUNNER_COUNTS = (1, 2, 4)
#: Tasks per case; the quick form checks the same invariants on fewer.
TASKS = {"quick": 300, "full": 1000}
SLOTS = 8
#: A short runner loop sleep, so that the runners rather than their pauses set the pace.
CONFIG = {"runner_loop_sleep_time_sec": 0.01}
#: Batches drained on the empty store, and again on the filled one, with ``--stored``.
STORED_ROUNDS = 3


def plan(opts: Options) -> list[Case]:
    """Every runner count for every runner type."""
    return [
        Case(
            NAME,
            runner,
            opts.backend.name,
            f"x{count}" + (f"/stored-{opts.stored}" if opts.stored else ""),
            params={
                "tasks": TASKS["quick" if opts.quick else "full"],
                "runners": count,
                "slots_per_runner": effective_slots(runner, SLOTS),
                "stored": opts.stored,
            },
        )
        for runner in opts.runners
        for count in RUNNER_COUNTS
    ]


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Register a batch, start the runners, drain, check; with ``--stored``, drain
    batches before and after storing the final invocations asked for."""
    tasks, runners, stored = case.params["tasks"], case.params["runners"], case.params["stored"]
    timeout = 300 if opts.quick else 900
    with app_env(case, opts, result, slots=SLOTS, config=CONFIG) as env:
        if not stored:
            rates = [_drain(env, tasks, timeout, result, start_runners=runners)]
        else:
            env.start_runners(runners)
            empty = [_drain(env, tasks, timeout, result) for _ in range(STORED_ROUNDS)]
            started = time.time()
            env.store_final("stored", stored)
            result.metrics.update(stored=stored, fill_s=round(time.time() - started, 1))
            rates = [_drain(env, tasks, timeout, result) for _ in range(STORED_ROUNDS)]
            result.metrics.update(
                empty_tasks_per_s=round(median(empty), 1),
                empty_rounds=[round(rate, 1) for rate in empty],
                stored_rounds=[round(rate, 1) for rate in rates],
                stored_ratio=round(median(rates) / median(empty), 2) if median(empty) else 0.0,
            )
        env.stop_all()
        histories = env.histories(["noop"])
        ids = env.invocation_ids("noop")
        per_invocation = [
            [e.status for e in histories.get(i, [])].count(InvocationStatus.RUNNING) for i in ids
        ]
        done = sum(e.status is InvocationStatus.SUCCESS for i in ids for e in histories.get(i, []))
        twice = sum(1 for count in per_invocation if count > 1)
        result.metrics.update(tasks=tasks, runners=runners, tasks_per_s=round(median(rates), 1))
        batches = 2 * STORED_ROUNDS if stored else 1
        result.add(check_all_succeeded(env, ["noop"], tasks * batches))
        result.add(
            Check(
                "each task ran exactly once (one RUNNING per history)",
                twice == 0 and sum(per_invocation) == done,
                f"{sum(per_invocation)} RUNNING records for {done} SUCCESS; "
                f"{twice} invocations RUNNING more than once",
            )
        )
        result.add(check_histories_replay(histories, ids))
        result.add(check_no_locked(env.logs(), result.metrics))


def _drain(
    env: AppEnv, tasks: int, timeout: float, result: CaseResult, start_runners: int = 0
) -> float:
    """Register a batch of ``tasks`` (then start ``start_runners`` runners) and wait until
    every task so far is final; tasks/s of the batch, from its first RUNNING to its last
    SUCCESS (0 when it did not finish)."""
    expected = len(env.invocation_ids("noop")) + tasks
    submitted = time.time()
    group = env.module.noop.parallelize([(i,) for i in range(tasks)])
    result.metrics["register_per_s"] = round(tasks / (time.time() - submitted))
    if start_runners:
        env.start_runners(start_runners)
    wait = env.wait_final(["noop"], expected, timeout=timeout, stall=60)
    result.notes.append(f"wait: {wait.describe()}")
    histories = env.histories(["noop"])
    batch = [histories.get(invocation.invocation_id, []) for invocation in group.invocations]
    running = [e.ts for h in batch for e in h if e.status is InvocationStatus.RUNNING]
    done = [e.ts for h in batch for e in h if e.status is InvocationStatus.SUCCESS]
    span = max(done) - min(running) if done and running else 0.0
    result.metrics["drain_s"] = round(span, 1)
    return len(done) / span if span > 0 else 0.0


SCENARIO = Scenario(
    plan,
    run,
    headline=(
        "tasks_per_s",
        "tasks",
        "drain_s",
        "register_per_s",
        "stored",
        "fill_s",
        "empty_tasks_per_s",
        "stored_ratio",
    ),
    quick_runners=("ThreadRunner",),
)

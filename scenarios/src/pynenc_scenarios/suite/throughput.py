"""Throughput and soak: a thousand tasks across 1, 2 and 4 runner processes.

All 1000 ``noop`` tasks (300 in the quick form) are registered in one batch,
then 1, 2 or 4 runners (8 slots each) start and drain them. tasks/s counts from
the first RUNNING to the last SUCCESS in the status histories (runner start-up
excluded). With ``--stored N``, each case first stores N final invocations of
another task (``stored``), so that tasks/s shows what a store that keeps its
history costs; the case's label and metrics name N and the time the filling took.

Invariants: every task ends SUCCESS (none lost); each ran exactly once (one
RUNNING per history); histories replay; no "database is locked" anywhere in
the runner logs.
"""

import time

from pynenc.invocation.status import InvocationStatus

from pynenc_contract import Check
from pynenc_scenarios.appenv import app_env, effective_slots
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
    """Store the final invocations asked for, register a batch, start the runners,
    drain, check."""
    tasks, runners, stored = case.params["tasks"], case.params["runners"], case.params["stored"]
    with app_env(case, opts, result, slots=SLOTS, config=CONFIG) as env:
        if stored:
            started = time.time()
            env.store_final("stored", stored)
            result.metrics.update(stored=stored, fill_s=round(time.time() - started, 1))
        submitted = time.time()
        env.module.noop.parallelize([(i,) for i in range(tasks)])
        result.metrics["register_per_s"] = round(tasks / (time.time() - submitted))
        env.start_runners(runners)
        wait = env.wait_final(["noop"], tasks, timeout=300 if opts.quick else 900, stall=60)
        env.stop_all()
        histories = env.histories(["noop"])
        ids = env.invocation_ids("noop")
        running = [
            e.ts for i in ids for e in histories.get(i, []) if e.status is InvocationStatus.RUNNING
        ]
        done = [
            e.ts for i in ids for e in histories.get(i, []) if e.status is InvocationStatus.SUCCESS
        ]
        span = max(done) - min(running) if done and running else 0.0
        per_invocation = [
            sum(e.status is InvocationStatus.RUNNING for e in histories.get(i, [])) for i in ids
        ]
        twice = sum(1 for count in per_invocation if count > 1)
        result.notes.append(f"wait: {wait.describe()}")
        result.metrics.update(
            tasks=tasks,
            runners=runners,
            tasks_per_s=round(len(done) / span, 1) if span > 0 else 0.0,
            drain_s=round(span, 1),
        )
        result.add(check_all_succeeded(env, ["noop"], tasks))
        result.add(
            Check(
                "each task ran exactly once (one RUNNING per history)",
                twice == 0 and len(running) == len(done),
                f"{len(running)} RUNNING records for {len(done)} SUCCESS; "
                f"{twice} invocations RUNNING more than once",
            )
        )
        result.add(check_histories_replay(histories, ids))
        result.add(check_no_locked(env.logs(), result.metrics))


SCENARIO = Scenario(
    plan,
    run,
    headline=("tasks_per_s", "tasks", "drain_s", "register_per_s", "stored", "fill_s"),
    quick_runners=("ThreadRunner",),
)

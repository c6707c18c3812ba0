"""Fan-out / fan-in with blocking control.

Parents wait until every slot holds a parent, then start 20 children each and
wait for all of them. There are more parents than runner slots (2 runners x 2
slots); they are registered in one batch once every runner and worker process
is up, so they take every slot before any child exists. Finishing requires
blocking control: waiting parents must give way to the children they wait on.
Invariants: every parent and child ends SUCCESS (none lost, no deadlock), each
task body ran exactly once, every status history replays under pynenc's rules,
no "database is locked" in the runner logs.
"""

from pynenc_scenarios.appenv import app_env, effective_slots
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import (
    check_all_succeeded,
    check_histories_replay,
    check_no_duplicates,
    check_no_locked,
    scan_logs,
)
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.scenario import Scenario

NAME = "fanout"
RUNNERS, SLOTS, CHILDREN, CHILD_SECONDS = 2, 2, 20, 0.02


def plan(opts: Options) -> list[Case]:
    """One case per runner type."""
    parents = 5 if opts.quick else 8
    return [
        Case(
            NAME,
            runner,
            opts.backend.name,
            params={
                "parents": parents,
                "children": CHILDREN,
                "runners": RUNNERS,
                "slots_per_runner": effective_slots(runner, SLOTS),
            },
        )
        for runner in opts.runners
    ]


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Submit the parents, wait (a stall means deadlock), then check."""
    parents = case.params["parents"]
    expected = parents * (CHILDREN + 1)
    with app_env(case, opts, result, slots=SLOTS) as env:
        env.start_runners(RUNNERS)
        # Parents fan out once every slot holds one: then no child can start before
        # the parents wait, however slow the machine (the deadlock is deterministic).
        first = min(parents, RUNNERS * case.params["slots_per_runner"])
        env.module.fan_parent.parallelize(
            [(index, CHILDREN, CHILD_SECONDS, first) for index in range(parents)]
        )
        wait = env.wait_final(
            ["fan_parent", "fan_child"],
            expected,
            timeout=90 if opts.quick else 240,
            stall=6 if opts.quick else 15,
        )
        env.stop_all()
        result.notes.append(f"wait: {wait.describe()}")
        result.metrics.update(
            seconds_to_finish=round(wait.seconds, 1),
            final=f"{wait.final}/{expected}",
            tasks_per_s=round(wait.final / max(wait.seconds, 1e-9), 1),
        )
        result.metrics["ownership_errors"] = sum(
            scan_logs(env.logs(), ["InvocationStatusOwnershipError"]).values()
        )
        histories = env.histories(["fan_parent", "fan_child"])
        ids = env.invocation_ids("fan_parent") + env.invocation_ids("fan_child")
        result.add(check_all_succeeded(env, ["fan_parent", "fan_child"], expected))
        result.add(check_no_duplicates(env.probes(), ids))
        result.add(check_histories_replay(histories, ids))
        result.add(check_no_locked(env.logs(), result.metrics))


SCENARIO = Scenario(
    plan,
    run,
    headline=("tasks_per_s", "seconds_to_finish", "final", "ownership_errors"),
)

"""Registration concurrency: many client processes submit the same call at once.

``registered_once`` has ``registration_concurrency=ARGUMENTS``: while an
invocation of a call is REGISTERED, submitting the same call again must reuse
it. Several client processes submit ``registered_once(key)`` at the same
instant (they pass a start gate together), for a few keys in turn, before any
runner starts; then one runner executes what was registered.

Invariants: one invocation per call (key); every registered invocation ends
SUCCESS; histories replay; no "database is locked" in the logs.
"""

from collections import defaultdict

from pynenc_contract import Check
from pynenc_scenarios.appenv import app_env
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import check_all_succeeded, check_histories_replay, check_no_locked
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.records import APP_MODULE
from pynenc_scenarios.scenario import Scenario

NAME = "registration"


def plan(opts: Options) -> list[Case]:
    """One case per runner type (the runner only executes what was registered)."""
    clients, rounds = (6, 3) if opts.quick else (10, 6)
    return opts.case_per_runner(NAME, clients=clients, rounds=rounds)


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Synchronised submissions from client processes, then one runner."""
    clients, rounds = case.params["clients"], case.params["rounds"]
    with app_env(case, opts, result, slots=2) as env:
        code = (
            f"import {APP_MODULE} as m\n"
            f"for r in range({rounds}):\n"
            f"    m.register_client(f'key-{{r}}', f'gate-{{r}}')\n"
        )
        gates = [f"gate-{r}" for r in range(rounds)]
        outputs = env.run_clients([code] * clients, timeout=90, gates=gates)
        returned = {
            line.strip() for out in outputs for line in out.splitlines() if len(line.strip()) == 36
        }
        rows = env.invocation_rows(["registered_once"])
        per_key: dict[str, set[str]] = defaultdict(set)
        for invocation_id in env.invocation_ids("registered_once"):  # the orchestrator's
            per_key[rows[invocation_id].arguments.get("key", "?")].add(invocation_id)
        duplicates = sum(len(ids) - 1 for ids in per_key.values())
        registered = sum(len(ids) for ids in per_key.values())
        env.start_runners(1)
        wait = env.wait_final(["registered_once"], registered, timeout=60)
        env.stop_all()
        result.metrics.update(
            clients=clients,
            calls=rounds,
            submissions=clients * rounds,
            invocations=registered,
            duplicates=duplicates,
            ids_returned=len(returned),
        )
        result.notes.append(f"wait: {wait.describe()}")
        result.add(
            Check(
                "one invocation per call",
                len(per_key) == rounds and not duplicates,
                f"{rounds} calls x {clients} clients -> {registered} invocations "
                f"({duplicates} duplicates)",
            )
        )
        result.add(check_all_succeeded(env, ["registered_once"], registered))
        result.add(check_histories_replay(env.histories(["registered_once"])))
        result.add(check_no_locked(env.logs(), result.metrics))


SCENARIO = Scenario(
    plan,
    run,
    headline=("duplicates", "clients", "calls", "invocations"),
    quick_runners=("ThreadRunner",),
)

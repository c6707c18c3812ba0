"""Defects of pynenc 0.4.0's own components that the contract and the scenarios find.

Each is a :class:`KnownFailure`. :mod:`pynenc_contract.pynenc_backends` lists them under
the tests they break in pynenc's memory and SQLite backends; other backends that share
a defect (pynenc-redis with pynenc's routing races) import them from here.
"""

from dataclasses import replace

from pynenc_contract.backend import KnownFailure, suite_command

REGISTERED_KEEPS_OWNER = KnownFailure(
    "pynenc: REGISTERED keeps an owner",
    "_register_new_invocations stores the registering runner as owner of a REGISTERED "
    "invocation (REG-1); the base class documents no owner",
)
PAGES_BY_LAST_CHANGE = KnownFailure(
    "pynenc: pages by last status change",
    "get_invocation_ids_paginated orders by the last status change, not newest registration "
    "first as documented, so pages skip and repeat while statuses change (PAGE-1/2)",
)
BLOCKING_NOT_OLDEST_FIRST = KnownFailure(
    "pynenc: blocking look-up order",
    "get_blocking_invocations does not return the oldest waited invocations first (BLOCK-2)",
)
HEARTBEAT_ERASES_QUEUES = KnownFailure(
    "pynenc: heartbeat erases queues",
    "a heartbeat without consumed_queues erases the queues given earlier (RUN-1)",
)

RUNNING_CONCURRENCY_RACE = KnownFailure(
    "pynenc-3",
    "DistributedInvocation.run checks running_concurrency "
    "(is_authorize_to_run_by_concurrency_control) and writes RUNNING in two separate "
    "orchestrator calls, so two runners both pass the check; an orchestrator can close "
    "the race by checking inside the RUNNING transition, as pynenc-sqlite does (CC-1, CC-2)",
    "pynenc-scenarios scenario concurrency --quick --runner ThreadRunner --backend SPEC",
)
#: The scenarios' running-concurrency checks on an orchestrator with that race. With
#: one runner left to race itself after a pause, the histories show it in some runs only.
RUNNING_CONCURRENCY_RACES = {
    "concurrency/*/pause: never two RUNNING at once for the same key (histories)": replace(
        RUNNING_CONCURRENCY_RACE, strict=False
    ),
    "concurrency/*: never two RUNNING at once for the same key (histories)": (
        RUNNING_CONCURRENCY_RACE
    ),
    "concurrency/*: never two bodies at once for the same key (probes)": (RUNNING_CONCURRENCY_RACE),
}
REGISTRATION_RACE = KnownFailure(
    "pynenc-8",
    "BaseOrchestrator.route_call looks up an existing REGISTERED invocation, then "
    "registers a new one and only afterwards indexes its arguments, in separate calls; "
    "concurrent clients all miss each other; pynenc-sqlite closes it in one transaction "
    "(CC-3)",
    "pynenc-scenarios scenario registration --quick --backend SPEC",
)
DEAD_HOLDER_KEEPS_SERVICE = KnownFailure(
    "pynenc-4",
    "pynenc's orchestrators (memory and SQLite) never expire the RUNNING atomic-service "
    "record of a runner that stopped sending heartbeats; every later claim is BLOCKED, so "
    "triggers and recovery stop for good (AS-6)",
    "pynenc-scenarios scenario atomic_service --quick "
    "--backend pynenc_contract.pynenc_backends:BUILTIN_SQLITE",
)
FORMER_OWNER_OUTCOME_STORED = KnownFailure(
    "pynenc-16",
    "BaseOrchestrator.set_invocation_result (and set_invocation_exception) stores the "
    "outcome in the state backend, then changes the status: a runner that lost the "
    "invocation (paused past the dead timeout while recovery had another runner run it) "
    "overwrites the new owner's result before its SUCCESS is refused; pynenc-sqlite "
    "checks the change first, in one transaction with its state backend (REC-3)",
    "pynenc-scenarios scenario crash_recovery --quick --runner ThreadRunner "
    "--backend pynenc_contract.pynenc_backends:BUILTIN_SQLITE",
)

WALL_CLOCK_LIVENESS = KnownFailure(
    "pynenc-19",
    "pynenc's orchestrators (memory and SQLite) judge a runner's liveness by the age of "
    "its last heartbeat on the wall clock: a step of the wall clock past the dead timeout "
    "(an NTP step, a resume from suspend) makes every live runner inactive and its "
    "RUNNING invocations due for recovery until its next heartbeat; under real runners "
    "recovery runs their bodies again and another runner takes the atomic service from "
    "its live holder. pynenc-sqlite judges liveness by time.monotonic, one clock for "
    "every process of the host, which steps do not move (RUN-3)",
    "pytest --pyargs pynenc_contract.suite -k wall_clock_step --contract-backend "
    "pynenc_contract.pynenc_backends:BUILTIN_SQLITE",
)


def clock_step_races(defect: KnownFailure) -> dict[str, KnownFailure]:
    """The clock-jump scenario's checks on an orchestrator that judges liveness by the
    wall clock (``defect``): only a recovery or a claim that comes between the step and
    the runners' next heartbeats shows it, in some runs."""
    return {
        f"clock_jump/*: {check}": replace(defect, strict=False)
        for check in ("no body ran more than once", "windows of different runners never overlap")
    }


#: Test ids of the running- and registration-concurrency races (CC-1, CC-2, CC-3).
RUNNING_RACES = "test_concurrency_control.py::test_running_concurrency_holds_among_*"
REGISTRATION_RACES = "test_concurrency_control.py::test_registration_concurrency_holds_among_*"
DEAD_HOLDER = "test_atomic_service.py::test_a_dead_holder_does_not_keep_the_service"
FORMER_OWNER_FINISHES = "test_runners.py::test_a_former_owner_cannot_finish_a_recovered_invocation*"
WALL_CLOCK_STEP = "test_runners.py::test_a_wall_clock_step_leaves_live_runners_alive"

#: pynenc's backends, on which a component defect below is reproduced.
_MEMORY = "pynenc_contract.pynenc_backends:MEMORY"
_BUILTIN = "pynenc_contract.pynenc_backends:BUILTIN_SQLITE"

MEMORY_PURGE_KEEPS_STATE = KnownFailure(
    "pynenc-memory: purge keeps workflow data and runner contexts",
    "MemStateBackend.purge clears invocations, histories, outcomes and workflow runs "
    "but not _workflow_data nor _runner_contexts (pynenc/state_backend/"
    "mem_state_backend.py, purge): after a purge the app still reads its workflow data "
    "and runner contexts (STATE-13)",
    suite_command("test_state_backend_isolation", _MEMORY, "test_purge"),
)

HISTORY_ENTRIES_REPLACED = KnownFailure(
    "pynenc-builtin-sqlite: history entries with the same time replaced",
    "SQLiteStateBackend keys history rows by (invocation_id, history_timestamp, "
    "history_status) and writes them with INSERT OR REPLACE, and _get_history orders by "
    "time only (pynenc/state_backend/sqlite_state_backend.py, init_tables, "
    "_add_histories, _get_history): under a frozen or coarse clock the second PENDING "
    "and RUNNING of a retried run replace the first, and entries of one time come back "
    "in primary-key (status name) order: PENDING, RETRY, RUNNING, SUCCESS (STATE-2)",
    suite_command("test_state_backend", _BUILTIN, "'same_time or frozen_clock'"),
)

MEMORY_CRON_FIRST_PERIOD = KnownFailure(
    "pynenc-memory: a cron's first period is claimed by every racer",
    "MemTrigger.store_last_cron_execution (pynenc/trigger/mem_trigger.py:222-233) "
    "checks the stored last execution only when `expected_last_execution` is not None, "
    "so a store that expects none succeeds over one already stored; every thread "
    "whose scheduler read None fires the cron's first period (TRIG-5, TRIG-7)",
    suite_command("test_trigger", _MEMORY, "stored_only_over_the_expected"),
)

BUILTIN_CRON_NOT_ATOMIC = KnownFailure(
    "pynenc-builtin-sqlite: a cron period is claimed by several racers",
    "SQLiteTrigger.store_last_cron_execution (pynenc/trigger/sqlite_trigger.py:507-531) "
    "checks the stored last execution only when `expected_last_execution` is not None, "
    "and reads it in one statement and writes in another without a transaction, so "
    "every racer that read None, and racers that read the same time, all store and "
    "fire the period (TRIG-5, TRIG-7, TRIG-8)",
    suite_command("test_trigger", _BUILTIN, "stored_only_over_the_expected"),
)

BUILTIN_CRON_FORGOTTEN = KnownFailure(
    "pynenc-12: registering a condition again erases its last cron execution",
    "SQLiteTrigger._register_condition (pynenc/trigger/sqlite_trigger.py:330-336) stores "
    "the condition with INSERT OR REPLACE, which replaces the whole row with its "
    "last_cron_execution column; every process that starts makes its crons look as if "
    "they never ran (TRIG-6, TRIG-8)",
    suite_command("test_trigger", _BUILTIN, "keeps_its_last_cron"),
)

BUILTIN_RUN_CLAIM_NOT_ATOMIC = KnownFailure(
    "pynenc-builtin-sqlite: a trigger run is claimed by several racers",
    "SQLiteTrigger.claim_trigger_run (pynenc/trigger/sqlite_trigger.py:591-612) reads the "
    "claim in one statement and writes it with INSERT OR REPLACE in another, outside a "
    "transaction; racers that all read no claim all win (TRIG-7, TRIG-8)",
    suite_command("test_trigger_claims", _BUILTIN, "trigger_run_is_won_by_one_process"),
)

BUILTIN_RUN_CLAIM_RACE_THREADS = KnownFailure(
    BUILTIN_RUN_CLAIM_NOT_ATOMIC.defect,
    BUILTIN_RUN_CLAIM_NOT_ATOMIC.reason + "; between threads it shows in most runs, not all",
    suite_command("test_trigger_claims", _BUILTIN, "trigger_run_is_won_by_one_thread"),
    strict=False,
)

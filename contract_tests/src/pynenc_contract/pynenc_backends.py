"""pynenc's own backends under the contract: every component in memory, and every
component on pynenc's built-in SQLite classes, with the defects the harness finds in
them (:mod:`pynenc_contract.pynenc_defects`).

A backend that provides some components and borrows pynenc's others lists the
borrowed ones' known failures from these descriptions, for example
``known_failures={**BUILTIN_SQLITE.known_failures, **mine}``.
"""

from dataclasses import replace
from pathlib import Path

from pynenc import Pynenc
from pynenc.broker.mem_broker import MemBroker
from pynenc.broker.sqlite_broker import SQLiteBroker
from pynenc.builder import PynencBuilder
from pynenc.client_data_store.mem_client_data_store import MemClientDataStore
from pynenc.client_data_store.sqlite_client_data_store import SQLiteClientDataStore
from pynenc.orchestrator.mem_orchestrator import MemOrchestrator
from pynenc.orchestrator.sqlite_orchestrator import SQLiteOrchestrator
from pynenc.state_backend.mem_state_backend import MemStateBackend
from pynenc.state_backend.sqlite_state_backend import SQLiteStateBackend
from pynenc.trigger.mem_trigger import MemTrigger
from pynenc.trigger.sqlite_trigger import SQLiteTrigger

from pynenc_contract.backend import BackendDescription, Capability, Component, KnownFailure
from pynenc_contract.pynenc_defects import (
    BLOCKING_NOT_OLDEST_FIRST,
    BUILTIN_CRON_FORGOTTEN,
    BUILTIN_CRON_NOT_ATOMIC,
    BUILTIN_RUN_CLAIM_NOT_ATOMIC,
    BUILTIN_RUN_CLAIM_RACE_THREADS,
    DEAD_HOLDER,
    DEAD_HOLDER_KEEPS_SERVICE,
    FORMER_OWNER_FINISHES,
    FORMER_OWNER_OUTCOME_STORED,
    HEARTBEAT_ERASES_QUEUES,
    HISTORY_ENTRIES_REPLACED,
    MEMORY_CRON_FIRST_PERIOD,
    MEMORY_PURGE_KEEPS_STATE,
    PAGES_BY_LAST_CHANGE,
    REGISTERED_KEEPS_OWNER,
    REGISTRATION_RACE,
    REGISTRATION_RACES,
    RUNNING_CONCURRENCY_RACE,
    RUNNING_CONCURRENCY_RACES,
    RUNNING_RACES,
    WALL_CLOCK_LIVENESS,
    WALL_CLOCK_STEP,
    clock_step_races,
)

#: Tests that fail on both of pynenc's orchestrators.
_SHARED = {
    DEAD_HOLDER: DEAD_HOLDER_KEEPS_SERVICE,
    FORMER_OWNER_FINISHES: FORMER_OWNER_OUTCOME_STORED,
    RUNNING_RACES: RUNNING_CONCURRENCY_RACE,
    WALL_CLOCK_STEP: WALL_CLOCK_LIVENESS,
    "test_lookups.py::test_pages_are_newest_registration_first": PAGES_BY_LAST_CHANGE,
    "test_lookups.py::test_paging_neither_skips_nor_repeats_while_statuses_change": (
        PAGES_BY_LAST_CHANGE
    ),
    "test_model.py::test_random_operation_sequences_match_the_model": REGISTERED_KEEPS_OWNER,
    "test_registration.py::test_registration_returns_the_stored_record": REGISTERED_KEEPS_OWNER,
    "test_registration.py::test_registration_stores_registered_without_owner": (
        REGISTERED_KEEPS_OWNER
    ),
}

_CLAIMS = "test_trigger_claims.py::"
#: Tests of the components beyond the orchestrator that fail in memory.
_MEMORY_COMPONENTS: dict[str, KnownFailure] = {
    "test_state_backend_isolation.py::test_purge_removes_all_of_this_apps_state_and_none_"
    "of_the_others": MEMORY_PURGE_KEEPS_STATE,
    "test_trigger.py::test_a_cron_execution_is_stored_only_over_the_expected_one": (
        MEMORY_CRON_FIRST_PERIOD
    ),
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_thread": MEMORY_CRON_FIRST_PERIOD,
}
#: Tests of the components beyond the orchestrator that fail on pynenc's SQLite classes.
_BUILTIN_SQLITE_COMPONENTS: dict[str, KnownFailure] = {
    "test_state_backend.py::test_history_keeps_entries_with_the_same_time_in_the_order_"
    "stored": HISTORY_ENTRIES_REPLACED,
    "test_state_backend.py::test_a_retried_run_shows_every_status_change_under_a_frozen_"
    "clock": HISTORY_ENTRIES_REPLACED,
    "test_trigger.py::test_a_cron_execution_is_stored_only_over_the_expected_one": (
        BUILTIN_CRON_NOT_ATOMIC
    ),
    "test_trigger.py::test_registering_a_condition_again_keeps_its_last_cron_execution": (
        BUILTIN_CRON_FORGOTTEN
    ),
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_thread": BUILTIN_CRON_NOT_ATOMIC,
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_process": BUILTIN_CRON_NOT_ATOMIC,
    f"{_CLAIMS}test_a_process_that_starts_cannot_claim_a_claimed_period": (BUILTIN_CRON_FORGOTTEN),
    f"{_CLAIMS}test_each_trigger_run_is_won_by_one_thread": BUILTIN_RUN_CLAIM_RACE_THREADS,
    f"{_CLAIMS}test_each_trigger_run_is_won_by_one_process": BUILTIN_RUN_CLAIM_NOT_ATOMIC,
}


def build_memory_app(app_id: str, workdir: Path) -> Pynenc:
    """All components in memory (one process only)."""
    return PynencBuilder().app_id(app_id).memory().build()


def build_sqlite_app(app_id: str, workdir: Path) -> Pynenc:
    """All components on pynenc's SQLite classes, one file."""
    return PynencBuilder().app_id(app_id).sqlite(str(workdir / "pynenc.sqlite3")).build()


MEMORY_FILTER_KEY_ERROR = KnownFailure(
    "pynenc-memory: KeyError in a status filter",
    "filter_by_status raises KeyError for an invocation whose status it does not hold, "
    "another app's included, instead of ignoring it (FILTER-1, ISO-1)",
)

MEMORY = BackendDescription(
    name="pynenc-memory",
    orchestrator_class=MemOrchestrator,
    build_app=build_memory_app,
    components={
        Component.BROKER: MemBroker,
        Component.STATE_BACKEND: MemStateBackend,
        Component.TRIGGER: MemTrigger,
        Component.CLIENT_DATA_STORE: MemClientDataStore,
    },
    known_failures={
        **_MEMORY_COMPONENTS,
        **_SHARED,
        # MemBlockingControl keeps them in a set, whose order follows the ids' string
        # hashes (random per process): about 1 run in 120 comes out oldest first.
        "test_blocking.py::test_blocking_look_up_is_oldest_first_and_limited": replace(
            BLOCKING_NOT_OLDEST_FIRST, strict=False
        ),
        "test_lookups.py::test_filter_by_status": MEMORY_FILTER_KEY_ERROR,
        "test_isolation.py::test_every_look_up_sees_only_its_own_app": MEMORY_FILTER_KEY_ERROR,
        "test_registration.py::test_registering_again_changes_nothing": KnownFailure(
            "pynenc-memory: re-registering resets the record",
            "registering an invocation again replaces its stored record (REG-2)",
        ),
        "test_registration.py::test_unknown_id_transition_raises_key_error": KnownFailure(
            "pynenc-memory: unknown id",
            "a transition of an unknown invocation raises InvocationStatusTransitionError, "
            "not the KeyError the base class documents (LOOK-1)",
        ),
    },
)

BUILTIN_SQLITE = BackendDescription(
    name="pynenc-builtin-sqlite",
    orchestrator_class=SQLiteOrchestrator,
    build_app=build_sqlite_app,
    components={
        Component.BROKER: SQLiteBroker,
        Component.STATE_BACKEND: SQLiteStateBackend,
        Component.TRIGGER: SQLiteTrigger,
        Component.CLIENT_DATA_STORE: SQLiteClientDataStore,
    },
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    known_failures={
        **_BUILTIN_SQLITE_COMPONENTS,
        **_SHARED,
        "test_atomic_service.py::test_finalize_without_start_inserts_a_zero_width_record": (
            KnownFailure(
                "pynenc-builtin-sqlite: finalize without a start",
                "finalize_atomic_service_execution of a run that has no start record "
                "inserts nothing and fails unpacking the missing row (AS-3)",
            )
        ),
        "test_runners.py::test_consumed_queues_are_kept_until_given_again": (
            HEARTBEAT_ERASES_QUEUES
        ),
        **RUNNING_CONCURRENCY_RACES,
        REGISTRATION_RACES: REGISTRATION_RACE,
        # scenarios: real runners on this orchestrator
        "registration/*: one invocation per call": REGISTRATION_RACE,
        "atomic_service/*: service resumes after its holder is *": (DEAD_HOLDER_KEEPS_SERVICE),
        "crash_recovery/*/pause: a paused runner's writes after it was continued are refused": (
            FORMER_OWNER_OUTCOME_STORED
        ),
        **clock_step_races(WALL_CLOCK_LIVENESS),
    },
)

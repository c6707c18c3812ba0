"""Known failures of other backends' state backend components under the contract."""

from pynenc_contract import KnownFailure

_RUN = "cd contract_tests && pytest --pyargs pynenc_contract.suite.{module} -k {test} "
_MEMORY = "--contract-backend adapters.pynenc_builtin_backends:MEMORY"
_BUILTIN_SQLITE = "--contract-backend adapters.pynenc_builtin_backends:BUILTIN_SQLITE"
_REDIS = "--contract-backend adapters.redis_backend:BACKEND"

MEMORY_PURGE_KEEPS_STATE = KnownFailure(
    "pynenc-memory: purge keeps workflow data and runner contexts",
    "MemStateBackend.purge clears invocations, histories, outcomes and workflow runs "
    "but not _workflow_data nor _runner_contexts (pynenc/state_backend/"
    "mem_state_backend.py, purge): after a purge the app still reads its workflow data "
    "and runner contexts (STATE-13)",
    _RUN.format(module="test_state_backend_isolation", test="test_purge") + _MEMORY,
)
HISTORY_ENTRIES_REPLACED = KnownFailure(
    "pynenc-builtin-sqlite: history entries with the same time replaced",
    "SQLiteStateBackend keys history rows by (invocation_id, history_timestamp, "
    "history_status) and writes them with INSERT OR REPLACE, and _get_history orders by "
    "time only (pynenc/state_backend/sqlite_state_backend.py, init_tables, "
    "_add_histories, _get_history): under a frozen or coarse clock the second PENDING "
    "and RUNNING of a retried run replace the first, and entries of one time come back "
    "in primary-key (status name) order: PENDING, RETRY, RUNNING, SUCCESS (STATE-2)",
    _RUN.format(module="test_state_backend", test="'same_time or frozen_clock'") + _BUILTIN_SQLITE,
)
TIME_RANGE_REPEATS_INVOCATIONS = KnownFailure(
    "pynenc-redis 0.3.0: time-range invocation ids repeat across batches",
    "RedisStateBackend.iter_invocations_in_timerange pages over history entries "
    "(zrangebyscore with start/num) and drops repeated invocation ids only within one "
    "batch (seen_ids is reset per batch, pynenc_redis/state_backend/"
    "redis_state_backend.py, iter_invocations_in_timerange): an invocation with entries "
    "in several batches is yielded once per batch (STATE-10)",
    _RUN.format(module="test_state_backend", test="test_time_range") + _REDIS,
)
RUSTVELLO_STATE_BACKEND_ABSTRACT = KnownFailure(
    "pynenc-rustvello 0.1.3: RustSqliteStateBackend cannot be instantiated",
    "RustSqliteStateBackend lacks the abstract get_invocations_by_parent_event of "
    "pynenc 0.4, so building the app's state backend raises TypeError (every STATE "
    "clause)",
    "cd contract_tests && pytest --pyargs pynenc_contract.suite.test_state_backend "
    "--contract-backend adapters.rustvello_backend:BACKEND",
)

MEMORY: dict[str, KnownFailure] = {
    "test_state_backend_isolation.py::test_purge_removes_all_of_this_apps_state_and_none_"
    "of_the_others": MEMORY_PURGE_KEEPS_STATE,
}
BUILTIN_SQLITE: dict[str, KnownFailure] = {
    "test_state_backend.py::test_history_keeps_entries_with_the_same_time_in_the_order_"
    "stored": HISTORY_ENTRIES_REPLACED,
    "test_state_backend.py::test_a_retried_run_shows_every_status_change_under_a_frozen_"
    "clock": HISTORY_ENTRIES_REPLACED,
}
REDIS: dict[str, KnownFailure] = {
    "test_state_backend.py::test_time_range_reads_return_each_entry_and_invocation_once": (
        TIME_RANGE_REPEATS_INVOCATIONS
    ),
}
RUSTVELLO: dict[str, KnownFailure] = {
    "test_state_backend*.py::*": RUSTVELLO_STATE_BACKEND_ABSTRACT,
}

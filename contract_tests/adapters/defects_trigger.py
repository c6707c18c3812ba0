"""Known failures of other backends' trigger components under the contract."""

from pynenc_contract import KnownFailure

_RUN = "cd contract_tests && pytest --pyargs pynenc_contract.suite.{module} -k {test} "
_MEMORY = "--contract-backend adapters.pynenc_builtin_backends:MEMORY"
_BUILTIN = "--contract-backend adapters.pynenc_builtin_backends:BUILTIN_SQLITE"
_REDIS = "--contract-backend adapters.redis_backend:BACKEND"

MEMORY_CRON_FIRST_PERIOD = KnownFailure(
    "pynenc-memory: a cron's first period is claimed by every racer",
    "MemTrigger.store_last_cron_execution (pynenc/trigger/mem_trigger.py:222-233) "
    "checks the stored last execution only when `expected_last_execution` is not None, "
    "so a store that expects none succeeds over one already stored; every thread "
    "whose scheduler read None fires the cron's first period (TRIG-5, TRIG-7)",
    _RUN.format(module="test_trigger", test="stored_only_over_the_expected") + _MEMORY,
)
BUILTIN_CRON_NOT_ATOMIC = KnownFailure(
    "pynenc-builtin-sqlite: a cron period is claimed by several racers",
    "SQLiteTrigger.store_last_cron_execution (pynenc/trigger/sqlite_trigger.py:507-531) "
    "checks the stored last execution only when `expected_last_execution` is not None, "
    "and reads it in one statement and writes in another without a transaction, so "
    "every racer that read None, and racers that read the same time, all store and "
    "fire the period (TRIG-5, TRIG-7, TRIG-8)",
    _RUN.format(module="test_trigger", test="stored_only_over_the_expected") + _BUILTIN,
)
BUILTIN_CRON_FORGOTTEN = KnownFailure(
    "pynenc-12: registering a condition again erases its last cron execution",
    "SQLiteTrigger._register_condition (pynenc/trigger/sqlite_trigger.py:330-336) stores "
    "the condition with INSERT OR REPLACE, which replaces the whole row with its "
    "last_cron_execution column; every process that starts makes its crons look as if "
    "they never ran (TRIG-6, TRIG-8)",
    _RUN.format(module="test_trigger", test="keeps_its_last_cron") + _BUILTIN,
)
BUILTIN_RUN_CLAIM_NOT_ATOMIC = KnownFailure(
    "pynenc-builtin-sqlite: a trigger run is claimed by several racers",
    "SQLiteTrigger.claim_trigger_run (pynenc/trigger/sqlite_trigger.py:591-612) reads the "
    "claim in one statement and writes it with INSERT OR REPLACE in another, outside a "
    "transaction; racers that all read no claim all win (TRIG-7, TRIG-8)",
    _RUN.format(module="test_trigger_claims", test="trigger_run_is_won_by_one_process") + _BUILTIN,
)
BUILTIN_RUN_CLAIM_RACE_THREADS = KnownFailure(
    BUILTIN_RUN_CLAIM_NOT_ATOMIC.defect,
    BUILTIN_RUN_CLAIM_NOT_ATOMIC.reason + "; between threads it shows in most runs, not all",
    _RUN.format(module="test_trigger_claims", test="trigger_run_is_won_by_one_thread") + _BUILTIN,
    strict=False,
)
REDIS_CRON_WATCH_ERROR = KnownFailure(
    "pynenc-redis 0.3.0: a lost cron claim raises WatchError",
    "RedisTrigger.store_last_cron_execution (pynenc_redis/trigger/redis_trigger.py:342-358) "
    "WATCHes the key and runs MULTI/EXEC without catching redis.WatchError: a racer whose "
    "watched key another racer changed raises instead of returning False, which aborts "
    "BaseTrigger.check_time_based_triggers for every later cron (TRIG-7, TRIG-8)",
    _RUN.format(module="test_trigger_claims", test="cron_period_is_won_by_one_thread") + _REDIS,
)
RUSTVELLO_TRIGGER_PRE_0_4 = KnownFailure(
    "pynenc-rustvello 0.1.3: trigger lacks pynenc 0.4's monitoring methods",
    "_RustTriggerBase (pynenc_rustvello/trigger.py:173-374) implements none of pynenc "
    "0.4's event, trigger-run and retention methods (store_event, get_events, "
    "store_trigger_run, _age_purge_events, ...), so RustSqliteTrigger cannot be "
    "instantiated (TRIG-1 to TRIG-13)",
    _RUN.format(module="test_trigger", test="interface")
    + "--contract-backend adapters.rustvello_backend:BACKEND",
)

_CLAIMS = "test_trigger_claims.py::"

MEMORY: dict[str, KnownFailure] = {
    "test_trigger.py::test_a_cron_execution_is_stored_only_over_the_expected_one": (
        MEMORY_CRON_FIRST_PERIOD
    ),
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_thread": MEMORY_CRON_FIRST_PERIOD,
}
BUILTIN_SQLITE: dict[str, KnownFailure] = {
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
REDIS: dict[str, KnownFailure] = {
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_thread": REDIS_CRON_WATCH_ERROR,
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_process": REDIS_CRON_WATCH_ERROR,
}
RUSTVELLO: dict[str, KnownFailure] = {"test_trigger*.py::*": RUSTVELLO_TRIGGER_PRE_0_4}

"""Known failures of pynenc-redis's and pynenc-rustvello's triggers (pynenc's own are in
:mod:`pynenc_contract.pynenc_backends`)."""

from pynenc_contract import KnownFailure, suite_command

_REDIS = "adapters.redis_backend:BACKEND"
_RUSTVELLO = "adapters.rustvello_backend:BACKEND"

REDIS_CRON_WATCH_ERROR = KnownFailure(
    "pynenc-redis 0.3.0: a lost cron claim raises WatchError",
    "RedisTrigger.store_last_cron_execution (pynenc_redis/trigger/redis_trigger.py:342-358) "
    "WATCHes the key and runs MULTI/EXEC without catching redis.WatchError: a racer whose "
    "watched key another racer changed raises instead of returning False, which aborts "
    "BaseTrigger.check_time_based_triggers for every later cron (TRIG-7, TRIG-8)",
    suite_command(
        "test_trigger_claims", _REDIS, "cron_period_is_won_by_one_thread", "contract_tests"
    ),
)
RUSTVELLO_TRIGGER_PRE_0_4 = KnownFailure(
    "pynenc-rustvello 0.1.3: trigger lacks pynenc 0.4's monitoring methods",
    "_RustTriggerBase (pynenc_rustvello/trigger.py:173-374) implements none of pynenc "
    "0.4's event, trigger-run and retention methods (store_event, get_events, "
    "store_trigger_run, _age_purge_events, ...), so RustSqliteTrigger cannot be "
    "instantiated (TRIG-1 to TRIG-13)",
    suite_command("test_trigger", _RUSTVELLO, "interface", "contract_tests"),
)

_CLAIMS = "test_trigger_claims.py::"

REDIS: dict[str, KnownFailure] = {
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_thread": REDIS_CRON_WATCH_ERROR,
    f"{_CLAIMS}test_each_cron_period_is_won_by_one_process": REDIS_CRON_WATCH_ERROR,
}
RUSTVELLO: dict[str, KnownFailure] = {"test_trigger*.py::*": RUSTVELLO_TRIGGER_PRE_0_4}

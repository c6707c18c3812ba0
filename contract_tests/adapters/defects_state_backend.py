"""Known failures of pynenc-redis's and pynenc-rustvello's state backends (pynenc's own
are in :mod:`pynenc_contract.pynenc_backends`)."""

from pynenc_contract import KnownFailure, suite_command

_REDIS = "adapters.redis_backend:BACKEND"

TIME_RANGE_REPEATS_INVOCATIONS = KnownFailure(
    "pynenc-redis 0.3.0: time-range invocation ids repeat across batches",
    "RedisStateBackend.iter_invocations_in_timerange pages over history entries "
    "(zrangebyscore with start/num) and drops repeated invocation ids only within one "
    "batch (seen_ids is reset per batch, pynenc_redis/state_backend/"
    "redis_state_backend.py, iter_invocations_in_timerange): an invocation with entries "
    "in several batches is yielded once per batch (STATE-10)",
    suite_command("test_state_backend", _REDIS, "test_time_range", "contract_tests"),
)
RUSTVELLO_STATE_BACKEND_ABSTRACT = KnownFailure(
    "pynenc-rustvello 0.1.3: RustSqliteStateBackend cannot be instantiated",
    "RustSqliteStateBackend lacks the abstract get_invocations_by_parent_event of "
    "pynenc 0.4, so building the app's state backend raises TypeError (every STATE "
    "clause)",
    suite_command(
        "test_state_backend", "adapters.rustvello_backend:BACKEND", directory="contract_tests"
    ),
)

REDIS: dict[str, KnownFailure] = {
    "test_state_backend.py::test_time_range_reads_return_each_entry_and_invocation_once": (
        TIME_RANGE_REPEATS_INVOCATIONS
    ),
}
RUSTVELLO: dict[str, KnownFailure] = {
    "test_state_backend*.py::*": RUSTVELLO_STATE_BACKEND_ABSTRACT,
}

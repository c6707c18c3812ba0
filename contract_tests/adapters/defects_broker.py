"""Known failures of other backends' broker components under the contract."""

from pynenc_contract import KnownFailure, suite_command

REDIS_BROKER_PRE_0_4 = KnownFailure(
    "pynenc-redis 0.3.0: RedisBroker has pynenc 0.3's interface",
    "RedisBroker (pynenc_redis/broker/redis_broker.py:48-80) overrides route_invocation, "
    "route_invocations, retrieve_invocation and count_invocations without queues or "
    "priorities and lacks the abstract _route_invocation and _route_invocations of "
    "pynenc 0.4, so it cannot be instantiated and no app that routes invocations can "
    "be built (BROKER-1 to BROKER-8; ACROSS-1, ACROSS-2, FLOW-1 to FLOW-3 and CC-3, "
    "which route through it)",
    suite_command("test_broker", "adapters.redis_backend:BACKEND", directory="contract_tests"),
)
RUSTVELLO_BROKER_PRE_0_4 = KnownFailure(
    "pynenc-rustvello 0.1.3: broker has pynenc 0.3's interface",
    "_RustvelloBroker (pynenc_rustvello/broker.py:117-136) overrides route_invocation, "
    "route_invocations, retrieve_invocation and count_invocations without queues or "
    "priorities and lacks the abstract _route_invocation and _route_invocations of "
    "pynenc 0.4, so RustSqliteBroker cannot be instantiated (BROKER-1 to BROKER-8)",
    suite_command("test_broker", "adapters.rustvello_backend:BACKEND", directory="contract_tests"),
)

REDIS: dict[str, KnownFailure] = {"test_broker.py::*": REDIS_BROKER_PRE_0_4}
RUSTVELLO: dict[str, KnownFailure] = {"test_broker.py::*": RUSTVELLO_BROKER_PRE_0_4}

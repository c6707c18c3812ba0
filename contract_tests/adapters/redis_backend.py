"""pynenc-redis under the contract, on the redis-server named by $PYNENC_CONTRACT_REDIS_URL."""

import os
from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc_redis.orchestrator.redis_orchestrator import RedisOrchestrator

from adapters.defects import BLOCKING_NOT_OLDEST_FIRST, REGISTERED_KEEPS_OWNER
from pynenc_contract import BackendDescription, Capability, KnownFailure, Service
from pynenc_contract.backend import REDIS_URL_ENV

REDIS_URL = os.environ.get(REDIS_URL_ENV, "redis://127.0.0.1:6379/0")

CLAIM_OUTSIDE_MULTI = KnownFailure(
    "pynenc-redis 0.3.0: claim outside MULTI",
    "a status transition reads the record outside its MULTI block, so several racers "
    "claim the same PENDING invocation (ATOM-1/2)",
)
BROKER_MISSES_ROUTE = KnownFailure(
    "pynenc-redis 0.3.0: RedisBroker lacks _route_invocation(s)",
    "RedisBroker misses the abstract _route_invocation and _route_invocations of "
    "pynenc 0.4, so no app that routes invocations can be built (FLOW-1/2/3)",
)
HEARTBEAT_WITHOUT_QUEUES = KnownFailure(
    "pynenc-redis 0.3.0: register_runner_heartbeats lacks consumed_queues",
    "the 0.3 signature has no consumed_queues: a TypeError where pynenc 0.4 passes it "
    "(API-2, RUN-1)",
)


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """Every component on redis; apps are told apart by app_id (keys are prefixed)."""
    app: Pynenc = PynencBuilder().app_id(app_id).redis(url=REDIS_URL).build()
    return app


BACKEND = BackendDescription(
    name="pynenc-redis",
    orchestrator_class=RedisOrchestrator,
    build_app=build_app,
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("pynenc-redis", "redis"),
    services=frozenset({Service.REDIS}),
    known_failures={
        "test_blocking.py::test_blocking_look_up_is_oldest_first_and_limited": (
            BLOCKING_NOT_OLDEST_FIRST
        ),
        "test_concurrency.py::test_one_process_wins_each_claim": CLAIM_OUTSIDE_MULTI,
        "test_concurrency.py::test_one_thread_wins_each_claim": CLAIM_OUTSIDE_MULTI,
        "test_flows.py::*": BROKER_MISSES_ROUTE,
        "test_interface.py::test_signatures_match_the_base_class": HEARTBEAT_WITHOUT_QUEUES,
        "test_model.py::test_random_operation_sequences_match_the_model": REGISTERED_KEEPS_OWNER,
        "test_purge.py::test_auto_purge_removes_marked_invocations_after_the_period": (
            KnownFailure(
                "pynenc-redis 0.3.0: auto purge",
                "the automatic purge removes other invocations than the ones marked "
                "for it after the period (PURGE-1)",
            )
        ),
        "test_registration.py::test_registration_*": REGISTERED_KEEPS_OWNER,
        "test_runners.py::test_active_runners_follow_heartbeats": HEARTBEAT_WITHOUT_QUEUES,
        "test_runners.py::test_consumed_queues_are_kept_until_given_again": (
            HEARTBEAT_WITHOUT_QUEUES
        ),
    },
)

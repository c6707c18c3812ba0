"""pynenc-redis under the contract, on the redis-server named by $PYNENC_CONTRACT_REDIS_URL."""

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc_redis.broker.redis_broker import RedisBroker
from pynenc_redis.client_data_store.redis_client_data_store import RedisClientDataStore
from pynenc_redis.orchestrator.redis_orchestrator import RedisOrchestrator
from pynenc_redis.state_backend.redis_state_backend import RedisStateBackend
from pynenc_redis.trigger.redis_trigger import RedisTrigger

from adapters import component_defects
from adapters.defects_broker import REDIS_BROKER_PRE_0_4
from pynenc_contract import BackendDescription, Capability, Component, KnownFailure, Service
from pynenc_contract.backend import REDIS_URL_ENV
from pynenc_contract.pynenc_defects import (
    BLOCKING_NOT_OLDEST_FIRST,
    DEAD_HOLDER,
    FORMER_OWNER_FINISHES,
    FORMER_OWNER_OUTCOME_STORED,
    REGISTERED_KEEPS_OWNER,
    REGISTRATION_RACE,
    REGISTRATION_RACES,
    RUNNING_CONCURRENCY_RACE,
    RUNNING_CONCURRENCY_RACES,
    RUNNING_RACES,
    WALL_CLOCK_STEP,
    clock_step_races,
)


def redis_url() -> str:
    """The server's URL, read when an app is built (the harness may start it later)."""
    return os.environ.get(REDIS_URL_ENV, "redis://127.0.0.1:6379/0")


CLAIM_OUTSIDE_MULTI = KnownFailure(
    "pynenc-redis 0.3.0: claim outside MULTI",
    "a status transition reads the record outside its MULTI block, so several racers "
    "claim the same PENDING invocation (ATOM-1/2)",
)
STALE_ATOMIC_RECORD = KnownFailure(
    "pynenc-redis 0.3.0: stale atomic-service record",
    "the RUNNING atomic-service record of a killed runner never expires, so every later "
    "claim is BLOCKED (as pynenc-4 in the built-in; AS-6)",
    "pynenc-scenarios scenario atomic_service --quick "
    "--backend adapters.redis_backend:ORCHESTRATOR",
)
CLIENT_CLOCK_LIVENESS = KnownFailure(
    "pynenc-redis 0.3.0: liveness on the client's wall clock",
    "heartbeats are stamped and judged with the wall clock of the process that writes or "
    "reads them, not the redis server's TIME: a step of one host's clock past the dead "
    "timeout makes live runners inactive and their RUNNING invocations due for recovery "
    "(as pynenc-19 in pynenc's orchestrators; RUN-3)",
    "pytest --pyargs pynenc_contract.suite -k wall_clock_step --contract-backend "
    "adapters.redis_backend:BACKEND",
)
HEARTBEAT_WITHOUT_QUEUES = KnownFailure(
    "pynenc-redis 0.3.0: register_runner_heartbeats lacks consumed_queues",
    "the 0.3 signature has no consumed_queues: a TypeError where pynenc 0.4 passes it "
    "(API-2, RUN-1)",
)


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """Every component on redis; apps are told apart by app_id (keys are prefixed)."""
    app: Pynenc = PynencBuilder().app_id(app_id).redis(url=redis_url()).build()
    return app


class RedisOrchestratorWithQueues(RedisOrchestrator):
    """pynenc-redis 0.3.0's orchestrator taking pynenc 0.4's heartbeat signature.

    pynenc 0.4's runners pass ``consumed_queues`` to every heartbeat; the 0.3 method
    rejects it and the runner dies at start. This shim drops the queues (0.3 keeps
    none) and changes nothing else, so that real runners show what the redis
    orchestrator does. The contract runs the unmodified class (BACKEND).
    """

    def register_runner_heartbeats(
        self,
        runner_ids: list[str],
        can_run_atomic_service: bool = False,
        consumed_queues: Sequence[str] | None = None,
    ) -> None:
        del consumed_queues
        super().register_runner_heartbeats(runner_ids, can_run_atomic_service)


def build_orchestrator_only_app(app_id: str, workdir: Path) -> Pynenc:
    """The redis orchestrator (with the heartbeat shim), pynenc's SQLite for the rest."""
    app: Pynenc = (
        PynencBuilder()
        .app_id(app_id)
        .sqlite(str(workdir / "components.sqlite3"))
        .custom_config(orchestrator_cls=RedisOrchestratorWithQueues.__name__, redis_url=redis_url())
        .build()
    )
    return app


BACKEND = BackendDescription(
    name="pynenc-redis",
    orchestrator_class=RedisOrchestrator,
    build_app=build_app,
    components={
        Component.BROKER: RedisBroker,
        Component.STATE_BACKEND: RedisStateBackend,
        Component.TRIGGER: RedisTrigger,
        Component.CLIENT_DATA_STORE: RedisClientDataStore,
    },
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("pynenc-redis", "redis"),
    services=frozenset({Service.REDIS}),
    known_failures={
        **component_defects.REDIS,
        "test_blocking.py::test_blocking_look_up_is_oldest_first_and_limited": (
            BLOCKING_NOT_OLDEST_FIRST
        ),
        DEAD_HOLDER: STALE_ATOMIC_RECORD,
        FORMER_OWNER_FINISHES: FORMER_OWNER_OUTCOME_STORED,
        WALL_CLOCK_STEP: CLIENT_CLOCK_LIVENESS,
        RUNNING_RACES: RUNNING_CONCURRENCY_RACE,
        REGISTRATION_RACES: REDIS_BROKER_PRE_0_4,
        "test_concurrency.py::test_one_process_wins_each_claim": CLAIM_OUTSIDE_MULTI,
        "test_concurrency.py::test_one_thread_wins_each_claim": CLAIM_OUTSIDE_MULTI,
        "test_flows.py::*": REDIS_BROKER_PRE_0_4,
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
        # scenarios: no runner starts, its broker cannot be built
        "*: the case runs to its end": REDIS_BROKER_PRE_0_4,
    },
)

#: The orchestrator on redis and pynenc's SQLite components for the rest, so that
#: real runners start and the scenarios show what the redis orchestrator does.
ORCHESTRATOR = BackendDescription(
    name="pynenc-redis orchestrator (heartbeat shim; pynenc SQLite for the rest)",
    orchestrator_class=RedisOrchestratorWithQueues,
    build_app=build_orchestrator_only_app,
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("pynenc-redis", "redis"),
    services=frozenset({Service.REDIS}),
    known_failures={
        # the claim race of the contract, under real runners: shows in most runs
        "fanout/*: histories replay under pynenc's status rules": replace(
            CLAIM_OUTSIDE_MULTI, strict=False
        ),
        "fanout/*: no body ran more than once": replace(CLAIM_OUTSIDE_MULTI, strict=False),
        **RUNNING_CONCURRENCY_RACES,
        "registration/*: one invocation per call": REGISTRATION_RACE,
        "atomic_service/*: service resumes after its holder is *": STALE_ATOMIC_RECORD,
        "crash_recovery/*/pause: a paused runner's writes after it was continued are refused": (
            FORMER_OWNER_OUTCOME_STORED
        ),
        **clock_step_races(CLIENT_CLOCK_LIVENESS),
    },
)

"""pynenc-redis under the contract, on the redis-server named by $PYNENC_CONTRACT_REDIS_URL."""

import os
from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc_redis.orchestrator.redis_orchestrator import RedisOrchestrator

from pynenc_contract import Capability, ContractBackend

REDIS_URL = os.environ.get("PYNENC_CONTRACT_REDIS_URL", "redis://127.0.0.1:6379/0")


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """Every component on redis; apps are told apart by app_id (keys are prefixed)."""
    app: Pynenc = PynencBuilder().app_id(app_id).redis(url=REDIS_URL).build()
    return app


BACKEND = ContractBackend(
    name="pynenc-redis",
    orchestrator_class=RedisOrchestrator,
    build_app=build_app,
    child_build_app=f"{__name__}:build_app",
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("pynenc-redis", "redis"),
)

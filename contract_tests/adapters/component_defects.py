"""Known failures of pynenc-redis's and pynenc-rustvello's components beyond the
orchestrator, by backend."""

from adapters import (
    defects_across,
    defects_broker,
    defects_client_data_store,
    defects_state_backend,
    defects_trigger,
)
from pynenc_contract import KnownFailure

_KINDS = (
    defects_broker,
    defects_state_backend,
    defects_trigger,
    defects_client_data_store,
    defects_across,
)

REDIS: dict[str, KnownFailure] = {k: v for m in _KINDS for k, v in m.REDIS.items()}
RUSTVELLO: dict[str, KnownFailure] = {k: v for m in _KINDS for k, v in m.RUSTVELLO.items()}

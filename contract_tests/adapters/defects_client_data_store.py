"""Known failures of other backends' client data store components under the contract."""

from pynenc_contract import KnownFailure

REDIS: dict[str, KnownFailure] = {}
RUSTVELLO: dict[str, KnownFailure] = {}

"""Known failures of other backends' trigger components under the contract."""

from pynenc_contract import KnownFailure

MEMORY: dict[str, KnownFailure] = {}
BUILTIN_SQLITE: dict[str, KnownFailure] = {}
REDIS: dict[str, KnownFailure] = {}
RUSTVELLO: dict[str, KnownFailure] = {}

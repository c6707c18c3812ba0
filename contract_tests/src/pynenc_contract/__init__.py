"""The pynenc component contract: numbered clauses and the tests that check them."""

__version__ = "0.3.0"
#: The pynenc releases whose base classes this contract specifies.
PYNENC_RANGE = ">=0.4,<0.5"

from pynenc_contract.backend import (  # noqa: E402
    AppCheck,
    BackendDescription,
    Capability,
    Check,
    Component,
    ContractBackend,
    KnownFailure,
    Service,
    suite_command,
)

__all__ = [
    "PYNENC_RANGE",
    "AppCheck",
    "BackendDescription",
    "Capability",
    "Check",
    "Component",
    "ContractBackend",
    "KnownFailure",
    "Service",
    "__version__",
    "suite_command",
]

"""API clauses: the backend implements the whole interface with the base signatures."""

from pynenc_contract.backend import ContractBackend
from pynenc_contract.clauses import clause, signature_drift


@clause("API-1")
def test_every_abstract_method_is_implemented(contract_backend: ContractBackend) -> None:
    missing = sorted(getattr(contract_backend.orchestrator_class, "__abstractmethods__", ()))
    assert not missing, f"{contract_backend.orchestrator_class.__name__} lacks {missing}"


@clause("API-1")
def test_blocking_control_is_complete(app_factory) -> None:  # type: ignore[no-untyped-def]
    blocking = app_factory().orchestrator.blocking_control
    missing = sorted(getattr(type(blocking), "__abstractmethods__", ()))
    assert not missing, f"{type(blocking).__name__} lacks {missing}"


@clause("API-2")
def test_signatures_match_the_base_class(contract_backend: ContractBackend) -> None:
    drift = signature_drift(contract_backend.orchestrator_class)
    assert not drift, "; ".join(drift)

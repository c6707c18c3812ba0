"""Registration and unknown ids."""

import pytest
from pynenc import Pynenc
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit
from pynenc_contract.clauses import clause

UNKNOWN = InvocationId("no-such-invocation")


@clause("REG-1")
def test_registration_stores_registered_without_owner(app: Pynenc) -> None:
    invs = kit.invocations(app, 3)
    for inv in invs:
        record = app.orchestrator.get_invocation_status_record(inv.invocation_id)
        assert record.status == InvocationStatus.REGISTERED
        assert record.runner_id is None


@clause("REG-1")
def test_registration_returns_the_stored_record(app: Pynenc) -> None:
    (inv,) = kit.invocations(app, 1)
    more = kit.invocations(app, 1)
    record = app.orchestrator._register_new_invocations(more, kit.REGISTRAR)
    assert record.status == InvocationStatus.REGISTERED
    assert record.runner_id is None
    assert app.orchestrator.get_invocation_status(inv.invocation_id) == record.status


@clause("REG-2")
def test_registering_again_changes_nothing(app: Pynenc) -> None:
    (inv,) = kit.invocations(app, 1)
    kit.walk(app, inv.invocation_id, kit.path_to(InvocationStatus.RUNNING))
    before = app.orchestrator.get_invocation_status_record(inv.invocation_id)
    app.orchestrator._register_new_invocations([inv], kit.OTHER)
    assert app.orchestrator.get_invocation_status_record(inv.invocation_id) == before
    assert app.orchestrator.count_invocations() == 1


@clause("LOOK-1")
def test_unknown_id_status_raises_key_error(app: Pynenc) -> None:
    with pytest.raises(KeyError):
        app.orchestrator.get_invocation_status_record(UNKNOWN)
    with pytest.raises(KeyError):
        app.orchestrator.get_invocation_status(UNKNOWN)


@clause("LOOK-1")
def test_unknown_id_transition_raises_key_error(app: Pynenc) -> None:
    with pytest.raises(KeyError):
        app.orchestrator._atomic_status_transition(
            UNKNOWN,
            InvocationStatus.PENDING,
            kit.OWNER,
        )
    assert app.orchestrator.count_invocations() == 0

"""The status state machine, every (from, to) pair generated from pynenc's definitions."""

import pytest
from pynenc import Pynenc
from pynenc.exceptions import InvocationStatusOwnershipError, InvocationStatusTransitionError
from pynenc.invocation.status import InvocationStatus, get_status_definition

from pynenc_contract import kit
from pynenc_contract.clauses import clause

STATUSES = sorted(InvocationStatus)
PAIRS = [(src, dst) for src in STATUSES for dst in STATUSES]
ALLOWED = [pair for pair in PAIRS if pair[0].can_transition_to(pair[1])]
FORBIDDEN = [pair for pair in PAIRS if not pair[0].can_transition_to(pair[1])]
OWNED_EXITS = [
    (src, dst)
    for src, dst in ALLOWED
    if get_status_definition(src).requires_ownership
    and not get_status_definition(dst).overrides_ownership
]
OVERRIDES = [(src, dst) for src, dst in ALLOWED if get_status_definition(dst).overrides_ownership]


def _ids(pairs: list[tuple[InvocationStatus, InvocationStatus]]) -> list[str]:
    return [f"{src.value}->{dst.value}" for src, dst in pairs]


def _expected_owner(src_owner: str | None, dst: InvocationStatus, runner: str) -> str | None:
    definition = get_status_definition(dst)
    if definition.releases_ownership:
        return None
    return runner if definition.acquires_ownership else src_owner


@clause("TRANS-1", "TRANS-4")
@pytest.mark.parametrize(("src", "dst"), ALLOWED, ids=_ids(ALLOWED))
def test_allowed_transition_is_stored(
    app: Pynenc, src: InvocationStatus, dst: InvocationStatus
) -> None:
    invocation_id = kit.at_status(app, src)
    before = app.orchestrator.get_invocation_status_record(invocation_id)
    returned = app.orchestrator._atomic_status_transition(invocation_id, dst, kit.OWNER)
    stored = app.orchestrator.get_invocation_status_record(invocation_id)
    assert (returned.status, stored.status) == (dst, dst)
    assert (
        returned.runner_id == stored.runner_id == _expected_owner(before.runner_id, dst, kit.OWNER)
    )


@clause("TRANS-2")
@pytest.mark.parametrize(("src", "dst"), FORBIDDEN, ids=_ids(FORBIDDEN))
def test_forbidden_transition_is_refused_and_record_untouched(
    app: Pynenc, src: InvocationStatus, dst: InvocationStatus
) -> None:
    invocation_id = kit.at_status(app, src)
    before = app.orchestrator.get_invocation_status_record(invocation_id)
    with pytest.raises(InvocationStatusTransitionError):
        app.orchestrator._atomic_status_transition(invocation_id, dst, kit.OWNER)
    assert app.orchestrator.get_invocation_status_record(invocation_id) == before


@clause("TRANS-3")
@pytest.mark.parametrize(("src", "dst"), OWNED_EXITS, ids=_ids(OWNED_EXITS))
def test_other_runner_cannot_leave_an_owned_status(
    app: Pynenc, src: InvocationStatus, dst: InvocationStatus
) -> None:
    invocation_id = kit.at_status(app, src)
    before = app.orchestrator.get_invocation_status_record(invocation_id)
    with pytest.raises(InvocationStatusOwnershipError):
        app.orchestrator._atomic_status_transition(invocation_id, dst, kit.OTHER)
    assert app.orchestrator.get_invocation_status_record(invocation_id) == before


@clause("TRANS-3")
def test_acquiring_ownership_needs_a_runner(app: Pynenc) -> None:
    (invocation_id,) = kit.registered(app)
    with pytest.raises(InvocationStatusOwnershipError):
        app.orchestrator._atomic_status_transition(invocation_id, InvocationStatus.PENDING, None)
    assert app.orchestrator.get_invocation_status(invocation_id) == InvocationStatus.REGISTERED


@clause("TRANS-4")
@pytest.mark.parametrize(("src", "dst"), OVERRIDES, ids=_ids(OVERRIDES))
def test_recovery_statuses_override_ownership(
    app: Pynenc, src: InvocationStatus, dst: InvocationStatus
) -> None:
    invocation_id = kit.at_status(app, src)
    record = app.orchestrator._atomic_status_transition(invocation_id, dst, kit.OTHER)
    assert record.status == dst
    assert app.orchestrator.get_invocation_status_record(invocation_id).runner_id == (
        _expected_owner(kit.OWNER, dst, kit.OTHER)
    )

"""Random operation sequences checked against a small pure-Python model of the contract."""

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from pynenc import Pynenc
from pynenc.exceptions import InvocationStatusError
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    status_record_transition,
)

from pynenc_contract import kit
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory

RUNNERS = st.sampled_from([kit.OWNER, kit.OTHER, None])
STATUSES = st.sampled_from(sorted(InvocationStatus))


@dataclass
class Model:
    """What the contract says the backend holds."""

    records: dict[InvocationId, InvocationStatusRecord] = field(default_factory=dict)
    retries: dict[InvocationId, int] = field(default_factory=dict)
    edges: set[tuple[InvocationId, InvocationId]] = field(default_factory=set)

    def blocking(self) -> set[InvocationId]:
        waiters = {waiter for waiter, _ in self.edges}
        return {
            waited
            for _, waited in self.edges
            if waited not in waiters and self.records[waited].status.is_available_for_run()
        }


class OrchestratorMachine(RuleBasedStateMachine):
    """Drives one app's orchestrator and the model with the same operations."""

    invocations = Bundle("invocations")

    def __init__(self, app: Pynenc) -> None:
        super().__init__()
        self.app = app
        self.orchestrator = app.orchestrator
        self.model = Model()

    @rule(target=invocations)
    def register(self) -> InvocationId:
        (invocation_id,) = kit.registered(self.app)
        self.model.records[invocation_id] = status_record_transition(
            None, InvocationStatus.REGISTERED, kit.REGISTRAR
        )
        self.model.retries[invocation_id] = 0
        return invocation_id

    @rule(invocation_id=invocations, status=STATUSES, runner=RUNNERS)
    def transition(
        self, invocation_id: InvocationId, status: InvocationStatus, runner: str | None
    ) -> None:
        try:
            expected = status_record_transition(self.model.records[invocation_id], status, runner)
        except InvocationStatusError as error:
            with pytest.raises(type(error)):
                self.orchestrator._atomic_status_transition(invocation_id, status, runner)
            return
        self.orchestrator._atomic_status_transition(invocation_id, status, runner)
        self.model.records[invocation_id] = expected

    @rule(invocation_id=invocations)
    def retry(self, invocation_id: InvocationId) -> None:
        self.orchestrator.increment_invocation_retries(invocation_id)
        self.model.retries[invocation_id] += 1

    @rule(waiter=invocations, waited=st.lists(invocations, min_size=1, max_size=3, unique=True))
    def wait(self, waiter: InvocationId, waited: list[InvocationId]) -> None:
        waited = [invocation_id for invocation_id in waited if invocation_id != waiter]
        if waited:
            self.orchestrator.blocking_control.waiting_for_results(waiter, waited)
            self.model.edges |= {(waiter, invocation_id) for invocation_id in waited}

    @rule(invocation_id=invocations)
    def release(self, invocation_id: InvocationId) -> None:
        self.orchestrator.blocking_control.release_waiters(invocation_id)
        self.model.edges = {edge for edge in self.model.edges if invocation_id not in edge}

    @invariant()
    def records_match(self) -> None:
        for invocation_id, expected in self.model.records.items():
            stored = self.orchestrator.get_invocation_status_record(invocation_id)
            assert (stored.status, stored.runner_id) == (expected.status, expected.runner_id)
            assert (
                self.orchestrator.get_invocation_retries(invocation_id)
                == (self.model.retries[invocation_id])
            )

    @invariant()
    def look_ups_match(self) -> None:
        assert self.orchestrator.count_invocations() == len(self.model.records)
        blocking = self.orchestrator.blocking_control.get_blocking_invocations(1000)
        assert set(blocking) == self.model.blocking()
        for status in (InvocationStatus.PENDING, InvocationStatus.RUNNING):
            expected = {i for i, record in self.model.records.items() if record.status == status}
            found = self.orchestrator.filter_by_status(
                list(self.model.records), frozenset({status})
            )
            assert set(found) == expected


@clause("MODEL-1")
@pytest.mark.timeout(600)
def test_random_operation_sequences_match_the_model(app_factory: AppFactory) -> None:
    class FreshAppMachine(OrchestratorMachine):
        def __init__(self) -> None:
            super().__init__(app_factory())

    run_state_machine_as_test(
        FreshAppMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

"""Runner heartbeats, active-runner order, and the recovery look-ups."""

import time

import pytest
import time_machine
from pynenc import Pynenc
from pynenc.exceptions import InvocationStatusOwnershipError, InvocationStatusTransitionError
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceId, AtomicServiceRun
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract import kit
from pynenc_contract.clauses import clause

TIMEOUT = 60.0


def _active(app: Pynenc, eligible: bool | None = None) -> list[str]:
    return [info.runner_id for info in app.orchestrator._get_active_runners(TIMEOUT, eligible)]


@clause("RUN-1")
def test_active_runners_follow_heartbeats(app: Pynenc, clock: kit.Clock) -> None:
    orchestrator = app.orchestrator
    orchestrator.register_runner_heartbeats(["old"], can_run_atomic_service=True)
    clock.shift(TIMEOUT + 5)
    orchestrator.register_runner_heartbeats(["worker"], consumed_queues=["q1", "q2"])
    orchestrator.register_runner_heartbeats(["parent"], can_run_atomic_service=True)
    assert set(_active(app)) == {"worker", "parent"}
    assert _active(app, True) == ["parent"]
    assert _active(app, False) == ["worker"]
    orchestrator.register_runner_heartbeats(["old"], can_run_atomic_service=True)
    assert set(_active(app, True)) == {"old", "parent"}


@clause("RUN-1")
def test_consumed_queues_are_kept_until_given_again(app: Pynenc) -> None:
    orchestrator = app.orchestrator
    orchestrator.register_runner_heartbeats(["worker"], consumed_queues=["q1", "q2"])
    orchestrator.register_runner_heartbeats(["worker"])
    (info,) = orchestrator._get_active_runners(TIMEOUT, None)
    assert tuple(info.consumed_queues) == ("q1", "q2")


@clause("RUN-2")
def test_active_runners_ordered_by_creation_then_id(app: Pynenc, clock: kit.Clock) -> None:
    orchestrator = app.orchestrator
    with time_machine.travel(time.time(), tick=False):
        orchestrator.register_runner_heartbeats(["b", "a"])
    clock.shift(1)
    orchestrator.register_runner_heartbeats(["0-late"])
    clock.shift(1)
    orchestrator.register_runner_heartbeats(["b", "a"])  # refresh keeps creation time
    infos = orchestrator._get_active_runners(TIMEOUT, None)
    assert [info.runner_id for info in infos] == ["a", "b", "0-late"]
    assert infos[0].creation_time < infos[2].creation_time <= infos[0].last_heartbeat


@clause("RUN-3")
def test_a_wall_clock_step_leaves_live_runners_alive(app: Pynenc, clock: kit.Clock) -> None:
    orchestrator = app.orchestrator
    (invocation_id,) = kit.registered(app)
    orchestrator.register_runner_heartbeats([kit.OWNER], can_run_atomic_service=True)
    for status in kit.path_to(InvocationStatus.RUNNING):
        orchestrator._atomic_status_transition(invocation_id, status, kit.OWNER)
    holder, other = (AtomicServiceRun(AtomicServiceId(r)) for r in (kit.OWNER, kit.OTHER))
    assert orchestrator.record_atomic_service_execution_start(holder, None)
    clock.step(max(TIMEOUT, app.conf.runner_considered_dead_after_minutes * 60) + 5)
    orchestrator.register_runner_heartbeats([kit.OTHER], can_run_atomic_service=True)
    assert _active(app) == [kit.OWNER, kit.OTHER]
    assert list(orchestrator._get_running_invocations_for_recovery(TIMEOUT)) == []
    assert not orchestrator.record_atomic_service_execution_start(other, None)


@clause("REC-1")
def test_stuck_pending_invocations_are_found(app: Pynenc, clock: kit.Clock) -> None:
    stuck, _still_registered = kit.registered(app, 2)
    kit.walk(app, stuck, [InvocationStatus.PENDING])
    orchestrator = app.orchestrator
    assert list(orchestrator.get_pending_invocations_for_recovery()) == []
    clock.shift(app.conf.max_pending_seconds + 1)
    (fresh,) = kit.registered(app)
    kit.walk(app, fresh, [InvocationStatus.PENDING])
    assert list(orchestrator.get_pending_invocations_for_recovery()) == [stuck]


@clause("REC-2")
def test_running_invocations_of_dead_runners_are_found(app: Pynenc, clock: kit.Clock) -> None:
    dead_owned, live_owned = kit.registered(app, 2)
    orchestrator = app.orchestrator
    for invocation_id, runner in [(dead_owned, "dead"), (live_owned, "alive")]:
        orchestrator.register_runner_heartbeats([runner])
        for status in kit.path_to(InvocationStatus.RUNNING):
            orchestrator._atomic_status_transition(invocation_id, status, runner)
    assert list(orchestrator._get_running_invocations_for_recovery(TIMEOUT)) == []
    clock.shift(TIMEOUT + 5)
    orchestrator.register_runner_heartbeats(["alive"])
    assert list(orchestrator._get_running_invocations_for_recovery(TIMEOUT)) == [dead_owned]


@clause("REC-3")
@pytest.mark.parametrize("outcome", ["result", "exception"])
def test_a_former_owner_cannot_finish_a_recovered_invocation(app: Pynenc, outcome: str) -> None:
    """A runner paused past the dead timeout (a VM freeze) wakes up and finishes what
    recovery gave to another runner, which has finished it meanwhile."""
    (invocation,) = kit.invocations(app)
    invocation_id = invocation.invocation_id
    orchestrator = app.orchestrator
    former, owner = (RunnerContext("ContractRunner", runner_id=r) for r in (kit.OWNER, kit.OTHER))
    kit.walk(app, invocation_id, kit.path_to(InvocationStatus.RUNNING))
    for status in (InvocationStatus.RUNNING_RECOVERY, InvocationStatus.REROUTED):
        orchestrator._atomic_status_transition(invocation_id, status, kit.OTHER)
    for status in (InvocationStatus.PENDING, InvocationStatus.RUNNING):
        orchestrator._atomic_status_transition(invocation_id, status, kit.OTHER)
    orchestrator.set_invocation_result(invocation, 3, owner)
    refused = pytest.raises((InvocationStatusOwnershipError, InvocationStatusTransitionError))
    if outcome == "result":
        with refused:
            orchestrator.set_invocation_result(invocation, 99, former)
    else:
        with refused:
            orchestrator.set_invocation_exception(invocation, ValueError("late"), former)
    assert orchestrator.get_invocation_status(invocation_id) == InvocationStatus.SUCCESS
    assert app.state_backend.get_result(invocation_id) == 3
    with pytest.raises(Exception):  # noqa: B017, PT011 - no exception stored
        app.state_backend.get_exception(invocation_id)

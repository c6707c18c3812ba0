"""The orchestrator-level flows of BaseOrchestrator on top of the abstract methods."""

from pynenc import Pynenc
from pynenc.conf.config_task import ConcurrencyControlType
from pynenc.invocation.status import InvocationStatus
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract import kit
from pynenc_contract.clauses import clause


def _runner_context() -> RunnerContext:
    return RunnerContext(runner_cls="ContractRunner", runner_id="contract-runner")


@clause("FLOW-1")
def test_route_call_reuses_a_registered_invocation_with_the_same_arguments(app: Pynenc) -> None:
    add = kit.task(app, registration_concurrency=ConcurrencyControlType.ARGUMENTS)
    first, again, other = add(1, 2), add(1, 2), add(1, 3)
    assert first.invocation_id == again.invocation_id
    assert other.invocation_id != first.invocation_id
    assert app.orchestrator.count_invocations(add.task_id) == 2
    assert app.orchestrator.get_invocation_status(first.invocation_id) == (
        InvocationStatus.REGISTERED
    )


@clause("FLOW-2")
def test_invocations_to_run_come_blocking_first_and_become_pending(app: Pynenc) -> None:
    add = kit.task(app)
    routed = [add(i, 0).invocation_id for i in range(3)]
    (waiter, blocking) = kit.registered(app, 2)
    app.orchestrator.blocking_control.waiting_for_results(waiter, [blocking])
    context = _runner_context()
    to_run = list(
        app.orchestrator.get_invocations_to_run(
            3, context, queue_provider=lambda: [add.broker_queue], on_queue_retrieved=lambda _: None
        )
    )
    assert [inv.invocation_id for inv in to_run] == [blocking, *routed[:2]]
    for inv in to_run:
        record = app.orchestrator.get_invocation_status_record(inv.invocation_id)
        assert (record.status, record.runner_id) == (InvocationStatus.PENDING, context.runner_id)


@clause("FLOW-3")
def test_reroute_moves_concurrency_controlled_invocations_to_rerouted(app: Pynenc) -> None:
    add = kit.task(app)
    invocation_id = add(1, 1).invocation_id
    context = _runner_context()
    app.orchestrator.set_invocation_status(
        invocation_id, InvocationStatus.CONCURRENCY_CONTROLLED, context
    )
    app.orchestrator.reroute_invocations({invocation_id}, context)
    assert app.orchestrator.get_invocation_status(invocation_id) == InvocationStatus.REROUTED

"""Auto purge, purge, and isolation between apps on one backend."""

from datetime import UTC, datetime, timedelta

from pynenc import Pynenc
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceExecutionStatus as Status
from pynenc.orchestrator.atomic_service import AtomicServiceId, AtomicServiceRun

from pynenc_contract import kit
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory


@clause("PURGE-1")
def test_auto_purge_removes_marked_invocations_after_the_period(
    app: Pynenc, clock: kit.Clock
) -> None:
    done, kept = kit.registered(app, 2)
    kit.walk(app, done, kit.path_to(InvocationStatus.SUCCESS))
    app.orchestrator.set_up_invocation_auto_purge(done)
    hours = app.orchestrator.conf.auto_final_invocation_purge_hours
    clock.shift(hours * 3600 - 60)
    app.orchestrator.auto_purge()
    assert app.orchestrator.count_invocations() == 2
    clock.shift(120)
    app.orchestrator.auto_purge()
    assert list(app.orchestrator.get_invocation_ids_paginated()) == [kept]


@clause("PURGE-2")
def test_purge_removes_only_this_apps_records(app_factory: AppFactory) -> None:
    first, second = app_factory(), app_factory()
    first_ids, second_ids = kit.registered(first, 3), kit.registered(second, 2)
    first.orchestrator.blocking_control.waiting_for_results(first_ids[0], first_ids[1:])
    second.orchestrator.blocking_control.waiting_for_results(second_ids[0], second_ids[1:])
    assert set(first.orchestrator.get_invocation_ids_paginated()) == set(first_ids)
    assert list(first.orchestrator.blocking_control.get_blocking_invocations(10)) != []
    first.orchestrator.purge()
    assert first.orchestrator.count_invocations() == 0
    assert list(first.orchestrator.blocking_control.get_blocking_invocations(10)) == []
    assert set(second.orchestrator.get_invocation_ids_paginated()) == set(second_ids)
    assert set(second.orchestrator.blocking_control.get_blocking_invocations(10)) == set(
        second_ids[1:]
    )


def _runners_and_executions(app: Pynenc) -> tuple[set[str], list[tuple[str, Status]]]:
    """Active runners and every atomic-service execution of the last hour (and next)."""
    now = datetime.now(UTC)
    executions = app.orchestrator.get_atomic_service_executions_in_timerange(
        now - timedelta(hours=1), now + timedelta(hours=1)
    )
    runners = {runner.runner_id for runner in app.orchestrator.get_active_runners()}
    return runners, sorted((e.runner_id, e.status) for e in executions)


@clause("PURGE-3")
def test_purge_removes_runners_and_atomic_service_executions(app_factory: AppFactory) -> None:
    first, second = app_factory(), app_factory()
    for app in (first, second):
        orchestrator = app.orchestrator
        orchestrator.register_runner_heartbeats(["r1", "r2"], can_run_atomic_service=True)
        finished = AtomicServiceRun(atomic_service_id=AtomicServiceId("r1"))
        assert orchestrator.record_atomic_service_execution_start(finished, datetime.now(UTC))
        orchestrator.finalize_atomic_service_execution(
            finished, datetime.now(UTC), Status.COMPLETED
        )
        running = AtomicServiceRun(atomic_service_id=AtomicServiceId("r2"))
        assert orchestrator.record_atomic_service_execution_start(running, datetime.now(UTC))
    kept = _runners_and_executions(second)
    assert kept == ({"r1", "r2"}, [("r1", Status.COMPLETED), ("r2", Status.RUNNING)])
    first.orchestrator.purge()
    assert _runners_and_executions(first) == (set(), [])
    assert first.orchestrator.get_active_atomic_service_executions() == []
    assert _runners_and_executions(second) == kept

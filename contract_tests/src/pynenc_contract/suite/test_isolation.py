"""Two apps on one backend, alike in everything but their invocation ids, never see each
other's rows."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynenc import Pynenc
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceId, AtomicServiceRun

from pynenc_contract import kit
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory

#: The runner both apps use; DEAD owns a RUNNING invocation and never heartbeats.
LIVE, DEAD = "runner-shared", "runner-dead"


@dataclass
class Twin:
    """One app and its invocations: waited on (REGISTERED), stuck PENDING and RUNNING
    under a dead owner. Both twins have the same task, calls and runner ids."""

    app: Pynenc
    invocations: list[DistributedInvocation[Any, Any]]

    @property
    def ids(self) -> list[InvocationId]:
        return [invocation.invocation_id for invocation in self.invocations]


def _twin(app: Pynenc) -> Twin:
    invocations = kit.invocations(app, 4)  # x = 0..3: the same calls in both apps
    waited, waiting, pending, running = (inv.invocation_id for inv in invocations)
    orchestrator = app.orchestrator
    for invocation in invocations:
        orchestrator.index_arguments_for_concurrency_control(invocation)
    orchestrator.blocking_control.waiting_for_results(waiting, [waited])
    orchestrator._atomic_status_transition(pending, InvocationStatus.PENDING, LIVE)
    for status in (InvocationStatus.PENDING, InvocationStatus.RUNNING):
        orchestrator._atomic_status_transition(running, status, DEAD)
    return Twin(app, invocations)


def _assert_sees_only_its_own(twin: Twin, other: Twin) -> None:
    orchestrator, ids = twin.app.orchestrator, twin.ids
    waited, _waiting, pending, running = ids
    task = twin.invocations[0].task
    assert set(orchestrator.get_task_invocation_ids(task.task_id)) == set(ids), "by task id"
    for invocation in twin.invocations:
        calls = set(orchestrator.get_call_invocation_ids(invocation.call.call_id))
        assert calls == {invocation.invocation_id}, "by call id"
    assert set(orchestrator.get_invocation_ids_paginated(limit=100)) == set(ids), "pages"
    pending_page = orchestrator.get_invocation_ids_paginated(
        task_id=task.task_id, statuses=[InvocationStatus.PENDING]
    )
    assert list(pending_page) == [pending], "pages by task and status"
    assert orchestrator.count_invocations() == len(ids), "count"
    assert orchestrator.count_invocations(task.task_id, [InvocationStatus.PENDING]) == 1
    existing = orchestrator.get_existing_invocations(
        task, twin.invocations[0].call.serialized_arguments, None
    )
    assert list(existing) == [waited], "existing invocations"
    assert list(orchestrator.blocking_control.get_blocking_invocations(10)) == [waited]
    assert list(orchestrator.get_pending_invocations_for_recovery()) == [pending]
    assert list(orchestrator.get_running_invocations_for_recovery()) == [running]
    assert [runner.runner_id for runner in orchestrator.get_active_runners()] == [LIVE]
    (active,) = orchestrator.get_active_atomic_service_executions()
    now = datetime.now(UTC)
    in_range = orchestrator.get_atomic_service_executions_in_timerange(
        now - timedelta(hours=1), now + timedelta(hours=1)
    )
    assert [e.atomic_service_run_id for e in in_range] == [active.atomic_service_run_id]
    # The other app's ids are unknown ids here (FILTER-1: ignored).
    every_status = frozenset(InvocationStatus)
    assert set(orchestrator.filter_by_status([*ids, *other.ids], every_status)) == set(ids)


@clause("ISO-1")
def test_every_look_up_sees_only_its_own_app(app_factory: AppFactory, clock: kit.Clock) -> None:
    twins = [_twin(app_factory()), _twin(app_factory())]
    clock.shift(
        max(
            twins[0].app.conf.max_pending_seconds,
            twins[0].app.conf.runner_considered_dead_after_minutes * 60,
        )
        + 1
    )
    for twin in twins:  # the live runner, and each app's own atomic-service execution
        twin.app.orchestrator.register_runner_heartbeats([LIVE], can_run_atomic_service=True)
        run = AtomicServiceRun(atomic_service_id=AtomicServiceId(LIVE))
        assert twin.app.orchestrator.record_atomic_service_execution_start(
            run, datetime.now(UTC)
        ), "one app's atomic-service execution blocked the other's"
    _assert_sees_only_its_own(twins[0], twins[1])
    _assert_sees_only_its_own(twins[1], twins[0])

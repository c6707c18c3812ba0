"""The state backend's round-trips: histories, outcomes, invocations, workflows,
runner contexts, time ranges and app info."""

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pynenc import Pynenc
from pynenc.app_info import AppInfo
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.exceptions import InvocationNotFoundError
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.runner.runner_context import RunnerContext
from pynenc.state_backend.base_state_backend import InvocationHistory
from pynenc.workflow.workflow_identity import WorkflowIdentity

from pynenc_contract import kit, tasks
from pynenc_contract.clauses import clause, signature_drift
from pynenc_contract.suite.conftest import AppFactory

S = InvocationStatus
#: The statuses of a run that fails once, is retried and succeeds.
RETRIED_RUN = (S.PENDING, S.RUNNING, S.RETRY, S.PENDING, S.RUNNING, S.SUCCESS)
#: Where the frozen clock of the history tests stands.
FROZEN_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def stored(
    app: Pynenc,
    invocation_id: str,
    parent: str | None = None,
    event: str | None = None,
    workflow: WorkflowIdentity | None = None,
    **arguments: Any,
) -> DistributedInvocation[Any, Any]:
    """An invocation of ``tasks.add`` with the given id and links, upserted."""
    call: Call[Any, Any] = Call(kit.task(app), Arguments(arguments or {"x": 1, "y": 2}))
    invocation: DistributedInvocation[Any, Any] = DistributedInvocation(
        call,
        InvocationId(invocation_id),
        parent_invocation_id=InvocationId(parent) if parent else None,
        workflow=workflow,
        stored_in_backend=True,
        parent_event_id=event,
    )
    app.state_backend.upsert_invocations([invocation])
    return invocation


def workflow(
    app: Pynenc, workflow_id: str, func: Any = tasks.add, parent: str = ""
) -> WorkflowIdentity:
    """A workflow identity whose type is the suite task ``func``."""
    return WorkflowIdentity(
        workflow_id=InvocationId(workflow_id),
        workflow_type=kit.task(app, func).task_id,
        parent_workflow_id=InvocationId(parent) if parent else None,
    )


def runner(runner_id: str, parent: RunnerContext | None = None) -> RunnerContext:
    """A runner context with fixed process details."""
    return RunnerContext(
        runner_cls=f"Runner{runner_id[-1]}",
        runner_id=runner_id,
        parent_ctx=parent,
        pid=4242,
        hostname="contract-host",
        thread_id=77,
    )


def statuses(entries: Iterable[InvocationHistory]) -> list[InvocationStatus]:
    return [entry.status_record.status for entry in entries]


@clause("STATE-1")
def test_the_state_backend_is_complete_and_matches_the_base_signatures(
    state_backend: Any,
) -> None:
    cls = type(state_backend)
    assert not getattr(cls, "__abstractmethods__", None), "abstract methods left"
    assert signature_drift(cls) == []


@clause("STATE-2")
def test_history_keeps_entries_with_the_same_time_in_the_order_stored(
    app: Pynenc, state_backend: Any
) -> None:
    (invocation_id,) = kit.registered(app)
    context = runner("runner-history-1")
    with time_machine.travel(FROZEN_AT, tick=False):
        for status in RETRIED_RUN:
            state_backend.add_history(invocation_id, InvocationStatusRecord(status), context)
    history = state_backend.get_history(invocation_id)
    assert statuses(history) == list(RETRIED_RUN)
    assert {entry.timestamp for entry in history} == {FROZEN_AT}


@clause("STATE-2")
def test_a_retried_run_shows_every_status_change_under_a_frozen_clock(
    app: Pynenc, state_backend: Any
) -> None:
    """The orchestrator writes each status change's entry (with pynenc-sqlite's stack,
    in the status change's own transaction)."""
    (invocation_id,) = kit.registered(app)
    context = runner("runner-history-2")
    with time_machine.travel(FROZEN_AT, tick=False):
        for status in RETRIED_RUN:
            app.orchestrator.set_invocation_status(invocation_id, status, context)
    assert statuses(state_backend.get_history(invocation_id)) == list(RETRIED_RUN)


@clause("STATE-2")
def test_history_entries_keep_their_fields_oldest_first(app: Pynenc, state_backend: Any) -> None:
    parent = stored(app, "history-parent")
    child = stored(app, "history-child", parent=parent.invocation_id)
    context = runner("runner-history-3")
    with time_machine.travel(FROZEN_AT, tick=False) as clock:
        registered = InvocationStatusRecord(S.REGISTERED)
        state_backend.add_histories([child, parent], registered, context)
        clock.shift(5)
        pending = InvocationStatusRecord(S.PENDING, context.runner_id)
        state_backend.add_history(child.invocation_id, pending, context)
    history = state_backend.get_history(child.invocation_id)
    assert [(e.status_record, e.timestamp) for e in history] == [
        (registered, FROZEN_AT),
        (pending, FROZEN_AT + timedelta(seconds=5)),
    ]
    assert [e.invocation_id for e in history] == [child.invocation_id] * 2
    assert [e.runner_context_id for e in history] == [context.runner_id] * 2
    assert [e.registered_by_inv_id for e in history] == [parent.invocation_id, None]
    (own,) = state_backend.get_history(parent.invocation_id)
    assert own.registered_by_inv_id is None
    assert state_backend.get_history(InvocationId("never-stored")) == []


@clause("STATE-3")
def test_the_last_result_and_the_last_exception_are_the_ones_read(
    app: Pynenc, state_backend: Any
) -> None:
    invocation_id = stored(app, "outcomes").invocation_id
    state_backend.set_result(invocation_id, {"first": [1, 2]})
    assert state_backend.get_result(invocation_id) == {"first": [1, 2]}
    state_backend.set_exception(invocation_id, ValueError("first failure"))
    assert state_backend.get_result(invocation_id) == {"first": [1, 2]}, "erased by exception"
    state_backend.set_result(invocation_id, "re-run")
    assert state_backend.get_result(invocation_id) == "re-run"
    failure = state_backend.get_exception(invocation_id)
    assert (type(failure), failure.args) == (ValueError, ("first failure",)), "erased by result"
    state_backend.set_exception(invocation_id, RuntimeError("second failure"))
    failure = state_backend.get_exception(invocation_id)
    assert (type(failure), failure.args) == (RuntimeError, ("second failure",))
    assert state_backend.get_result(invocation_id) == "re-run"


@clause("STATE-3")
def test_an_outcome_never_stored_raises_key_error(app: Pynenc, state_backend: Any) -> None:
    invocation_id = stored(app, "no-outcome").invocation_id
    with pytest.raises(KeyError):
        state_backend.get_result(invocation_id)
    with pytest.raises(KeyError):
        state_backend.get_exception(invocation_id)
    state_backend.set_result(invocation_id, 1)
    with pytest.raises(KeyError):
        state_backend.get_exception(invocation_id)


@clause("STATE-4")
def test_an_invocation_round_trips_with_its_call_and_links(app: Pynenc, state_backend: Any) -> None:
    run = workflow(app, "round-trip-workflow", tasks.echo, parent="outer-workflow")
    sent = stored(app, "round-trip", "round-trip-parent", "event-1", run, x=3, y=4)
    got = state_backend.get_invocation(sent.invocation_id)
    assert got.invocation_id == sent.invocation_id
    assert got.call.call_id == sent.call.call_id
    assert got.task.task_id == sent.task.task_id
    assert got.arguments.kwargs == {"x": 3, "y": 4}
    assert (got.parent_invocation_id, got.parent_event_id) == ("round-trip-parent", "event-1")
    assert got.workflow == run
    bare = state_backend.get_invocation(stored(app, "bare").invocation_id)
    assert (bare.parent_invocation_id, bare.parent_event_id, bare.workflow) == (None, None, None)


@clause("STATE-4")
def test_an_upsert_replaces_and_an_unknown_id_is_not_found(app: Pynenc, state_backend: Any) -> None:
    stored(app, "replaced", event="event-old")
    stored(app, "replaced", event="event-new")
    assert state_backend.get_invocation(InvocationId("replaced")).parent_event_id == "event-new"
    with pytest.raises(InvocationNotFoundError):
        state_backend.get_invocation(InvocationId("never-stored"))


@clause("STATE-5")
def test_children_and_triggered_invocations_are_found_exactly(
    app: Pynenc, state_backend: Any
) -> None:
    stored(app, "child-1", parent="parent", event="event-a")
    stored(app, "child-2", parent="parent")
    stored(app, "child-2", parent="parent")  # stored again: still one child
    stored(app, "other-child", parent="other-parent", event="event-a")
    stored(app, "orphan", event="event-b")
    assert sorted(state_backend.get_child_invocations(InvocationId("parent"))) == [
        "child-1",
        "child-2",
    ]
    assert sorted(state_backend.get_invocations_by_parent_event("event-a")) == [
        "child-1",
        "other-child",
    ]
    assert list(state_backend.get_invocations_by_parent_event("event-b")) == ["orphan"]
    assert list(state_backend.get_child_invocations(InvocationId("child-1"))) == []
    assert list(state_backend.get_invocations_by_parent_event("event-unknown")) == []


def _runs(identities: Iterable[WorkflowIdentity]) -> list[tuple[str, str, str | None]]:
    return sorted((w.workflow_id, w.workflow_type.key, w.parent_workflow_id) for w in identities)


@clause("STATE-6")
def test_workflow_runs_and_types_are_listed_once(app: Pynenc, state_backend: Any) -> None:
    first, second = workflow(app, "run-1"), workflow(app, "run-2")
    nested = workflow(app, "run-3", tasks.echo, parent="run-1")
    for run in (first, second, nested, first):
        state_backend.store_workflow_run(run)
    assert _runs(state_backend.get_all_workflow_runs()) == _runs([first, second, nested])
    add_type: TaskId = first.workflow_type
    assert _runs(state_backend.get_workflow_runs(add_type)) == _runs([first, second])
    assert _runs(state_backend.get_workflow_runs(nested.workflow_type)) == _runs([nested])
    types = [task_id.key for task_id in state_backend.get_all_workflow_types()]
    assert sorted(types) == sorted([add_type.key, nested.workflow_type.key])


@clause("STATE-7")
def test_workflow_data_is_the_last_value_per_run_and_key(app: Pynenc, state_backend: Any) -> None:
    first, second = workflow(app, "data-run-1"), workflow(app, "data-run-2")
    state_backend.set_workflow_data(first, "step", 1)
    state_backend.set_workflow_data(first, "step", {"done": [1, 2]})
    state_backend.set_workflow_data(first, "other", "kept")
    state_backend.set_workflow_data(second, "step", "second run")
    assert state_backend.get_workflow_data(first, "step") == {"done": [1, 2]}
    assert state_backend.get_workflow_data(first, "other") == "kept"
    assert state_backend.get_workflow_data(second, "step") == "second run"
    assert state_backend.get_workflow_data(second, "other", "default") == "default"
    assert state_backend.get_workflow_data(first, "missing") is None


@clause("STATE-8")
def test_sub_invocations_and_invocations_by_workflow(app: Pynenc, state_backend: Any) -> None:
    first, second = workflow(app, "wf-1"), workflow(app, "wf-2")
    third = workflow(app, "wf-3", tasks.echo)
    for sub_invocation in ("sub-a", "sub-b", "sub-a"):
        state_backend.store_workflow_sub_invocation(first.workflow_id, InvocationId(sub_invocation))
    state_backend.store_workflow_sub_invocation(second.workflow_id, InvocationId("sub-c"))
    assert sorted(state_backend.get_workflow_sub_invocations(first.workflow_id)) == [
        "sub-a",
        "sub-b",
    ]
    assert list(state_backend.get_workflow_sub_invocations(InvocationId("wf-unknown"))) == []
    for invocation_id, run in (("in-1", first), ("in-2", second), ("in-3", third)):
        stored(app, invocation_id, workflow=run)
    stored(app, "outside")
    add_key, echo_key = first.workflow_type.key, third.workflow_type.key

    def found(**criteria: str) -> list[str]:
        return sorted(state_backend.get_invocation_ids_by_workflow(**criteria))

    assert found(workflow_id="wf-1") == ["in-1"]
    assert found(workflow_type_key=add_key) == ["in-1", "in-2"]
    assert found(workflow_type_key=echo_key) == ["in-3"]
    assert found(workflow_id="wf-2", workflow_type_key=add_key) == ["in-2"]
    assert found(workflow_id="wf-3", workflow_type_key=add_key) == []


@clause("STATE-9")
def test_runner_contexts_are_read_from_storage_with_their_parents(
    app: Pynenc, state_backend: Any
) -> None:
    parent = runner("ctx-parent-1")
    child = runner("ctx-child-2", parent)
    state_backend.store_runner_context(child)
    state_backend._runner_context_cache.clear()  # the base class's cache, not storage
    assert state_backend._get_runner_context("ctx-child-2") == child
    assert state_backend._get_runner_context("ctx-unknown") is None
    state_backend._runner_context_cache.clear()
    found = state_backend._get_runner_contexts(["ctx-parent-1", "ctx-unknown", "ctx-child-2"])
    assert sorted(found, key=lambda ctx: ctx.runner_id) == [child, parent]
    assert state_backend._get_runner_contexts([]) == []


@clause("STATE-9")
def test_matching_runner_contexts_contain_the_text(app: Pynenc, state_backend: Any) -> None:
    for runner_id in ("host-a-1", "host-ab-2", "other-3"):
        state_backend.store_runner_context(runner(runner_id))
    state_backend._runner_context_cache.clear()

    def matching(text: str) -> list[str]:
        return sorted(ctx.runner_id for ctx in state_backend.get_matching_runner_contexts(text))

    assert matching("host-a") == ["host-a-1", "host-ab-2"]
    assert matching("b-2") == ["host-ab-2"]
    assert matching("-") == ["host-a-1", "host-ab-2", "other-3"]
    assert matching("nowhere") == []


@clause("STATE-10")
def test_time_range_reads_return_each_entry_and_invocation_once(
    app: Pynenc, state_backend: Any
) -> None:
    """Entries at seconds 0..40 of four invocations; the range is [10, 30] in batches
    of two, so that an invocation's entries fall in several batches."""
    at = {
        "range-a": (0, 10, 20),
        "range-b": (10, 30),
        "range-c": (20, 40),
        "range-d": (0, 40),
    }
    context = runner("runner-range-1")
    with time_machine.travel(FROZEN_AT, tick=False) as clock:
        for second in range(0, 41, 10):
            clock.move_to(FROZEN_AT + timedelta(seconds=second))
            for invocation_id, seconds in at.items():
                if second in seconds:
                    record = InvocationStatusRecord(S.RUNNING, context.runner_id)
                    state_backend.add_history(InvocationId(invocation_id), record, context)
    start, end = FROZEN_AT + timedelta(seconds=10), FROZEN_AT + timedelta(seconds=30)
    batches = list(state_backend.iter_history_in_timerange(start, end, batch_size=2))
    assert all(len(batch) <= 2 for batch in batches)
    entries = [entry for batch in batches for entry in batch]
    expected = sorted(
        (FROZEN_AT + timedelta(seconds=s), i) for i, seconds in at.items() for s in seconds
    )
    assert sorted((e.timestamp, e.invocation_id) for e in entries) == [
        (when, invocation_id) for when, invocation_id in expected if start <= when <= end
    ]
    times = [entry.timestamp for entry in entries]
    assert times == sorted(times), "not in time order"
    id_batches = list(state_backend.iter_invocations_in_timerange(start, end, batch_size=2))
    assert all(len(batch) <= 2 for batch in id_batches)
    invocation_ids = [invocation_id for batch in id_batches for invocation_id in batch]
    assert sorted(invocation_ids) == ["range-a", "range-b", "range-c"]


@clause("STATE-11")
def test_app_info_round_trips_and_every_app_is_discovered(
    app_factory: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = [app_factory(), app_factory()]
    infos = {app.app_id: AppInfo.from_app(app) for app in apps}
    for app in apps:
        app.state_backend.store_app_info(infos[app.app_id])
    for app in apps:
        assert app.state_backend.get_app_info() == infos[app.app_id]
    config = tmp_path / "discovery.json"
    config.write_text(json.dumps(apps[0].config_values))
    monkeypatch.setenv("PYNENC__FILEPATH", str(config))
    discovered = type(apps[0].state_backend).discover_app_infos()
    assert {app_id: discovered.get(app_id) for app_id in infos} == infos

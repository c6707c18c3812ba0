"""Two apps on one storage, storing state under the same ids, never see each other's;
one app's purge removes all of its state and none of the other's."""

from datetime import UTC, datetime, timedelta
from typing import Any

from pynenc import Pynenc
from pynenc.app_info import AppInfo
from pynenc.exceptions import InvocationNotFoundError
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract import tasks
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory
from pynenc_contract.suite.test_state_backend import stored, workflow

S = InvocationStatus
#: Ids both apps store state under.
SHARED, PARENT, EVENT, RUN, RUNNER = "shared", "shared-parent", "shared-event", "run", "run-1"
#: The statuses each app stores for SHARED.
HISTORY = {"A": [S.PENDING], "B": [S.PENDING, S.RUNNING]}
#: Each app's workflow type.
WORKFLOW_TASK = {"A": tasks.add, "B": tasks.echo}


def _store(app: Pynenc, tag: str) -> None:
    """SHARED in both apps, with the app's own arguments, history and outcomes; in B,
    the app's own invocation is also a child, triggered and inside the run."""
    state = app.state_backend
    run = workflow(app, RUN, WORKFLOW_TASK[tag])
    own = f"own-{tag}"
    stored(app, SHARED, PARENT, EVENT, run, x=ord(tag), y=0)
    if tag == "B":
        stored(app, own, PARENT, EVENT, run)
    else:
        stored(app, own)
    context = RunnerContext(runner_cls=f"Runner{tag}", runner_id=RUNNER)
    for status in HISTORY[tag]:
        state.add_history(InvocationId(SHARED), InvocationStatusRecord(status), context)
    state.add_history(InvocationId(own), InvocationStatusRecord(S.REGISTERED), context)
    state.set_result(InvocationId(SHARED), tag)
    state.set_exception(InvocationId(SHARED), ValueError(tag))
    state.store_workflow_run(run)
    state.set_workflow_data(run, "key", tag)
    state.store_workflow_sub_invocation(run.workflow_id, InvocationId(SHARED))
    if tag == "B":
        state.store_workflow_sub_invocation(run.workflow_id, InvocationId(own))


def _invocation(app: Pynenc, invocation_id: str) -> tuple[Any, ...] | None:
    try:
        got = app.state_backend.get_invocation(InvocationId(invocation_id))
    except InvocationNotFoundError:
        return None
    workflow_id = got.workflow.workflow_id if got.workflow else None
    return got.arguments.kwargs, got.parent_invocation_id, got.parent_event_id, workflow_id


def _outcome(read: Any) -> Any:
    try:
        return read()
    except KeyError:
        return None


def _reads(app: Pynenc) -> dict[str, Any]:
    """Everything the app reads back of what either app stored."""
    state = app.state_backend
    state._runner_context_cache.clear()  # the base class's cache, not storage
    run = workflow(app, RUN)
    type_keys = [workflow(app, RUN, func).workflow_type for func in WORKFLOW_TASK.values()]
    now = datetime.now(UTC)
    window = (now - timedelta(hours=1), now + timedelta(hours=1))
    exception = _outcome(lambda: state.get_exception(InvocationId(SHARED)))
    contexts = state._get_runner_contexts([RUNNER])
    return {
        "invocations": {i: _invocation(app, i) for i in (SHARED, "own-A", "own-B")},
        "history": {
            i: [
                (e.status_record.status, e.runner_context_id)
                for e in state.get_history(InvocationId(i))
            ]
            for i in (SHARED, "own-A", "own-B")
        },
        "result": _outcome(lambda: state.get_result(InvocationId(SHARED))),
        "exception": exception and exception.args,
        "children": sorted(state.get_child_invocations(InvocationId(PARENT))),
        "triggered": sorted(state.get_invocations_by_parent_event(EVENT)),
        "runs": sorted(w.workflow_type.key for w in state.get_all_workflow_runs()),
        "runs by type": [len(list(state.get_workflow_runs(key))) for key in type_keys],
        "types": sorted(key.key for key in state.get_all_workflow_types()),
        "data": state.get_workflow_data(run, "key"),
        "sub-invocations": sorted(state.get_workflow_sub_invocations(run.workflow_id)),
        "by workflow": sorted(state.get_invocation_ids_by_workflow(workflow_id=RUN)),
        "by type": [
            sorted(state.get_invocation_ids_by_workflow(workflow_type_key=key.key))
            for key in type_keys
        ],
        "runner": (ctx := state._get_runner_context(RUNNER)) and ctx.runner_cls,
        "runners": [ctx.runner_cls for ctx in contexts],
        "matching": sorted(ctx.runner_cls for ctx in state.get_matching_runner_contexts("run-")),
        "history in range": sorted(
            (e.invocation_id, e.status_record.status)
            for batch in state.iter_history_in_timerange(*window)
            for e in batch
        ),
        "invocations in range": sorted(
            i for batch in state.iter_invocations_in_timerange(*window) for i in batch
        ),
    }


def _expected(app: Pynenc, tag: str) -> dict[str, Any]:
    """What ``_reads`` gives for an app that stored ``_store(app, tag)`` only."""
    own = f"own-{tag}"
    in_b = tag == "B"
    type_key = workflow(app, RUN, WORKFLOW_TASK[tag]).workflow_type.key
    family = sorted([SHARED, own] if in_b else [SHARED])
    return {
        "invocations": {
            SHARED: ({"x": ord(tag), "y": 0}, PARENT, EVENT, RUN),
            "own-A": None if in_b else ({"x": 1, "y": 2}, None, None, None),
            "own-B": ({"x": 1, "y": 2}, PARENT, EVENT, RUN) if in_b else None,
        },
        "history": {
            SHARED: [(status, RUNNER) for status in HISTORY[tag]],
            "own-A": [] if in_b else [(S.REGISTERED, RUNNER)],
            "own-B": [(S.REGISTERED, RUNNER)] if in_b else [],
        },
        "result": tag,
        "exception": (tag,),
        "children": family,
        "triggered": family,
        "runs": [type_key],
        "runs by type": [0, 1] if in_b else [1, 0],
        "types": [type_key],
        "data": tag,
        "sub-invocations": family,
        "by workflow": family,
        "by type": [[], family] if in_b else [family, []],
        "runner": f"Runner{tag}",
        "runners": [f"Runner{tag}"],
        "matching": [f"Runner{tag}"],
        "history in range": sorted(
            [(SHARED, status) for status in HISTORY[tag]] + [(own, S.REGISTERED)]
        ),
        "invocations in range": sorted([SHARED, own]),
    }


#: What ``_reads`` gives for an app that stored nothing (or purged all).
NOTHING = {
    "invocations": {SHARED: None, "own-A": None, "own-B": None},
    "history": {SHARED: [], "own-A": [], "own-B": []},
    "result": None,
    "exception": None,
    "children": [],
    "triggered": [],
    "runs": [],
    "runs by type": [0, 0],
    "types": [],
    "data": None,
    "sub-invocations": [],
    "by workflow": [],
    "by type": [[], []],
    "runner": None,
    "runners": [],
    "matching": [],
    "history in range": [],
    "invocations in range": [],
}


def _differences(got: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The reads that differ: name -> (got, expected)."""
    return {key: (got[key], value) for key, value in expected.items() if got[key] != value}


def _two_apps(app_factory: AppFactory) -> tuple[Pynenc, Pynenc]:
    first, second = app_factory(), app_factory()
    _store(first, "A")
    _store(second, "B")
    return first, second


@clause("STATE-12")
def test_every_read_sees_only_its_own_app(app_factory: AppFactory) -> None:
    first, second = _two_apps(app_factory)
    assert _differences(_reads(first), _expected(first, "A")) == {}
    assert _differences(_reads(second), _expected(second, "B")) == {}
    for app in (first, second):
        app.state_backend.store_app_info(AppInfo.from_app(app))
    assert first.state_backend.get_app_info().app_id == first.app_id
    assert second.state_backend.get_app_info().app_id == second.app_id


@clause("STATE-13")
def test_purge_removes_all_of_this_apps_state_and_none_of_the_others(
    app_factory: AppFactory,
) -> None:
    first, second = _two_apps(app_factory)
    first.state_backend.purge()
    assert _differences(_reads(first), NOTHING) == {}
    assert _differences(_reads(second), _expected(second, "B")) == {}

"""The state backend's clauses: BaseStateBackend."""

from pynenc_contract.backend import Component
from pynenc_contract.clauses.clause import Clause

_KIND = Component.STATE_BACKEND

CLAUSES = (
    Clause(
        "STATE-1",
        "Complete interface, signatures as the base class",
        "Every abstract method of BaseStateBackend is implemented, the state backend can "
        "be instantiated, and each override accepts every parameter of the base method "
        "with the same name and kind.",
        kind=_KIND,
    ),
    Clause(
        "STATE-2",
        "Every history entry kept, in the order stored",
        "get_history returns every entry that add_history and add_histories stored for "
        "the invocation, oldest first and, among entries with the same time (a frozen or "
        "coarse clock), in the order they were stored; none replaces another, even with "
        "the same time and status. Each entry keeps its time, status record, runner "
        "context id and registering parent. The status changes of a run that is retried "
        "(PENDING, RUNNING, RETRY, PENDING, RUNNING, SUCCESS) all appear.",
        ("_add_histories", "_get_history"),
        kind=_KIND,
    ),
    Clause(
        "STATE-3",
        "The last result and the last exception are the ones read",
        "get_result returns the value of the last set_result and get_exception an "
        "exception of the class and arguments of the last set_exception, whatever was "
        "stored before: a result set after an earlier exception or result (a re-run "
        "after recovery; pynenc stores nothing on RETRY) is the one read, and storing "
        "one never erases the other (pynenc reads the one the final status names). "
        "Reading what was never stored raises KeyError.",
        ("_set_result", "_get_result", "_set_exception", "_get_exception"),
        kind=_KIND,
    ),
    Clause(
        "STATE-4",
        "Invocations round-trip with their call",
        "get_invocation returns what upsert_invocations stored: the same invocation id, "
        "task, call id and arguments, parent invocation, parent event and workflow "
        "identity; a second upsert of the same id replaces the first; an id never stored "
        "raises InvocationNotFoundError.",
        ("_upsert_invocations", "_get_invocation"),
        kind=_KIND,
    ),
    Clause(
        "STATE-5",
        "Children and triggered invocations",
        "get_child_invocations(parent) returns exactly the stored invocations whose "
        "parent is that invocation, and get_invocations_by_parent_event(event) exactly "
        "those created by that event, each once; nothing for an unknown id.",
        ("get_child_invocations", "get_invocations_by_parent_event"),
        kind=_KIND,
    ),
    Clause(
        "STATE-6",
        "Workflow runs and types",
        "After store_workflow_run, get_all_workflow_runs returns every stored run once "
        "(with its type and parent workflow), get_workflow_runs(type) exactly the runs of "
        "that type, and get_all_workflow_types every type once; storing a run again adds "
        "nothing.",
        (
            "store_workflow_run",
            "get_all_workflow_runs",
            "get_workflow_runs",
            "get_all_workflow_types",
        ),
        kind=_KIND,
    ),
    Clause(
        "STATE-7",
        "Workflow data",
        "get_workflow_data returns the value of the last set_workflow_data for that "
        "workflow run and key, and the default for a key never set; runs and keys do "
        "not share values.",
        ("set_workflow_data", "get_workflow_data"),
        kind=_KIND,
    ),
    Clause(
        "STATE-8",
        "What ran inside a workflow",
        "get_workflow_sub_invocations(w) returns each invocation that "
        "store_workflow_sub_invocation recorded for w once; get_invocation_ids_by_workflow "
        "returns exactly the stored invocations of the given workflow run, of the given "
        "workflow type, or of both when both are given.",
        (
            "store_workflow_sub_invocation",
            "get_workflow_sub_invocations",
            "get_invocation_ids_by_workflow",
        ),
        kind=_KIND,
    ),
    Clause(
        "STATE-9",
        "Runner contexts round-trip and match",
        "A runner context stored (as add_history stores it, with its parents) is read "
        "back by _get_runner_context and _get_runner_contexts with its class, id, pid, "
        "hostname, thread id and parent chain, from storage rather than the base class's "
        "cache; unknown ids give None or are left out; get_matching_runner_contexts "
        "returns exactly the contexts whose id contains the given text.",
        (
            "_store_runner_context",
            "_get_runner_context",
            "_get_runner_contexts",
            "get_matching_runner_contexts",
        ),
        kind=_KIND,
    ),
    Clause(
        "STATE-10",
        "Time-range reads",
        "iter_history_in_timerange returns every history entry whose time is in "
        "[start, end] (both ends included) exactly once, in time order, and "
        "iter_invocations_in_timerange every invocation with such an entry exactly once; "
        "no batch is longer than batch_size (what pynmon's timelines show).",
        ("iter_history_in_timerange", "iter_invocations_in_timerange"),
        kind=_KIND,
    ),
    Clause(
        "STATE-11",
        "App info and discovery",
        "get_app_info returns what store_app_info stored for this app; the static "
        "discover_app_infos, configured by the environment (PYNENC__FILEPATH naming a "
        "file with the apps' configuration), returns the stored info of every app in "
        "that storage, keyed by app id.",
        ("store_app_info", "get_app_info", "discover_app_infos"),
        kind=_KIND,
    ),
    Clause(
        "STATE-12",
        "Apps never see each other's state",
        "Two apps on one storage that store state under the same invocation, runner and "
        "workflow ids each read back only their own: invocations, histories, results, "
        "exceptions, children and triggered invocations, workflow runs, types, data and "
        "sub-invocations, invocations by workflow, runner contexts (by id and matching), "
        "app info and both time-range reads.",
        kind=_KIND,
    ),
    Clause(
        "STATE-13",
        "Purge is per app and complete",
        "purge removes everything the app stored (invocations, histories, results, "
        "exceptions, workflow runs, data and sub-invocations, runner contexts) and "
        "leaves another app's state on the same storage as it was.",
        ("purge",),
        kind=_KIND,
    ),
)
GUARANTEES: dict[str, str] = {}

"""The trigger's clauses: BaseTrigger."""

from pynenc_contract.backend import Component
from pynenc_contract.clauses.clause import Clause

TRIGGER = Component.TRIGGER

CLAUSES = (
    Clause(
        "TRIG-1",
        "Complete interface",
        "Every abstract method of BaseTrigger is implemented, the trigger can be "
        "instantiated, and each override accepts every parameter of the base method with "
        "the same name and kind.",
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-2",
        "Conditions and the tasks they watch",
        "_register_condition stores a condition that get_condition returns by its id (None "
        "for an unknown id) and _get_all_conditions lists; _register_source_task_condition "
        "makes get_conditions_sourced_from_task return the condition for that task, only "
        "those of the given context type when one is given.",
        (
            "_register_condition",
            "get_condition",
            "_get_all_conditions",
            "_register_source_task_condition",
            "get_conditions_sourced_from_task",
        ),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-3",
        "Trigger definitions",
        "register_trigger stores a definition that _get_trigger returns (task, conditions, "
        "logic, argument provider; None for an unknown id) and that "
        "get_triggers_for_condition lists for each of its conditions; "
        "clean_task_trigger_definitions removes the definitions of that task only.",
        (
            "register_trigger",
            "_get_trigger",
            "get_triggers_for_condition",
            "clean_task_trigger_definitions",
        ),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-4",
        "Valid conditions wait until cleared",
        "record_valid_condition and record_valid_conditions store satisfied conditions that "
        "get_valid_conditions returns by valid_condition_id, each once however often it was "
        "recorded; clear_valid_conditions removes exactly those given.",
        (
            "record_valid_condition",
            "record_valid_conditions",
            "get_valid_conditions",
            "clear_valid_conditions",
        ),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-5",
        "A cron's last execution is a compare-and-set",
        "get_last_cron_execution returns None until an execution is stored, then the time "
        "stored, to the microsecond. store_last_cron_execution(condition, time, expected) "
        "stores and returns True only when the stored last execution is `expected` "
        "(None: none stored yet), else returns False and changes nothing. pynenc's "
        "scheduler reads the last execution, then stores the new one with the value it read "
        "as `expected`: this is what makes a cron fire once per period.",
        ("get_last_cron_execution", "store_last_cron_execution", "cron-claim"),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-6",
        "A condition registered again keeps its last cron execution",
        "Registering a condition that is already stored (every process registers its "
        "tasks' conditions when it starts) keeps the cron's last execution.",
        ("_register_condition",),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-7",
        "Claims are won once among threads",
        "When N threads race for the same trigger runs (claim_trigger_run), each run is won "
        "by exactly one; when they race for a cron period as pynenc's scheduler does (all "
        "read the last execution, then all store with it as `expected`), exactly one store "
        "returns True. A claim of a run is refused until expiration_seconds have passed, "
        "then granted again.",
        ("claim_trigger_run", "store_last_cron_execution", "claim-run-atomic", "cron-claim"),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-8",
        "Claims are won once among processes",
        "The TRIG-7 races between separate OS processes; and a process that starts and "
        "registers a cron again cannot claim a period that another process already claimed.",
        ("claim_trigger_run", "store_last_cron_execution", "claim-run-atomic", "cron-claim"),
        capability="cross_process",
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-9",
        "Events and their look-ups",
        "store_event stores or replaces an event that get_event returns (None for an unknown "
        "id); get_events returns the events matching every filter given (code, time window, "
        "matched, triggered, emitting invocation and task), newest first, paged by limit "
        "and offset, and count_events counts them; get_event_markers_in_timerange pages the "
        "events of a window oldest first, by code and state, with their total and whether "
        "the page is truncated; list_event_codes lists each code once.",
        (
            "store_event",
            "get_event",
            "get_events",
            "count_events",
            "get_event_markers_in_timerange",
            "list_event_codes",
            "events-newest-first",
        ),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-10",
        "Trigger runs and what they link",
        "store_trigger_run stores or replaces a run that get_trigger_run returns (None for "
        "an unknown id), that get_trigger_runs_for_event lists for each event it names and "
        "get_trigger_runs_for_invocation for the invocation it triggered; "
        "get_trigger_runs_in_timerange returns the runs executed in the window (by task and "
        "by event code when given, at most `limit`); link_trigger_run_to_events makes "
        "get_invocations_triggered_by_event list the invocation once per event, in the "
        "order linked, and the event count as triggered.",
        (
            "store_trigger_run",
            "get_trigger_run",
            "get_trigger_runs_for_event",
            "get_trigger_runs_for_invocation",
            "get_trigger_runs_in_timerange",
            "link_trigger_run_to_events",
            "get_invocations_triggered_by_event",
        ),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-11",
        "Retention of events and trigger runs",
        "auto_purge_events deletes the events older than event_retention_days and the runs "
        "executed before then, keeps only the event_max_records newest events and the "
        "trigger_run_max_records newest runs (0: no limit), and deletes the runs that name "
        "a deleted event; everything else stays.",
        (
            "_age_purge_events",
            "_age_purge_trigger_runs",
            "_cap_purge_events",
            "_cap_purge_trigger_runs",
            "_cascade_delete_runs_for_events",
        ),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-12",
        "Retention per app",
        "Two apps on one storage with the same event and run ids and different retention "
        "settings: each app's auto_purge_events deletes only its own events and runs, by "
        "its own settings.",
        (
            "_age_purge_events",
            "_age_purge_trigger_runs",
            "_cap_purge_events",
            "_cap_purge_trigger_runs",
            "_cascade_delete_runs_for_events",
            "trigger-app-isolation",
        ),
        kind=TRIGGER,
    ),
    Clause(
        "TRIG-13",
        "Conditions, events and runs per app",
        "Two apps on one storage with the same conditions, definitions, events and runs: "
        "every look-up (conditions, valid conditions, definitions, source-task conditions, "
        "cron executions, claims, events, markers, event codes, counts, runs, triggered "
        "invocations) sees its own app's only, and _purge removes all of its app's trigger "
        "data and nothing of the other's.",
        ("_purge", "trigger-app-isolation"),
        kind=TRIGGER,
    ),
)

GUARANTEES = {
    "cron-claim": "store_last_cron_execution: atomic, optimistic locking on the expected "
    "last execution (BaseTrigger._should_trigger_cron_condition relies on it)",
    "claim-run-atomic": "claim_trigger_run: atomically claim the right to execute a run",
    "events-newest-first": "get_events: ordered by timestamp descending",
    "trigger-app-isolation": "_purge: all the trigger data of the current app_id",
}

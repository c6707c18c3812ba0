"""The orchestrator's clauses: BaseOrchestrator and BaseBlockingControl."""

from pynenc_contract.clauses.clause import Clause

CLAUSES = (
    Clause(
        "API-1",
        "Complete interface",
        "Every abstract method of BaseOrchestrator and BaseBlockingControl is implemented, "
        "and the orchestrator can be instantiated.",
        ("interface",),
    ),
    Clause(
        "API-2",
        "Signatures match the base class",
        "Each override accepts every parameter of the base method, with the same name and "
        "kind (for example register_runner_heartbeats(..., consumed_queues=...)).",
        ("signatures",),
    ),
    Clause(
        "REG-1",
        "Registration",
        "_register_new_invocations stores each invocation as REGISTERED without an owner "
        "and returns that record.",
        ("_register_new_invocations",),
    ),
    Clause(
        "REG-2",
        "Registration is idempotent",
        "Registering an invocation that already exists leaves its stored record "
        "(status, owner, timestamp) unchanged.",
        ("_register_new_invocations",),
    ),
    Clause(
        "LOOK-1",
        "Unknown ids raise KeyError",
        "get_invocation_status, get_invocation_status_record and _atomic_status_transition "
        "raise KeyError for an id that was never registered.",
        ("get_invocation_status_record", "unknown-id-keyerror"),
    ),
    Clause(
        "TRANS-1",
        "Every allowed transition is accepted",
        "For every (from, to) pair that pynenc's status definitions allow, the transition "
        "by the right runner succeeds, is stored, and returns the stored record.",
        ("_atomic_status_transition",),
    ),
    Clause(
        "TRANS-2",
        "Every forbidden transition is refused, record untouched",
        "For every (from, to) pair the definitions forbid, InvocationStatusTransitionError "
        "is raised and the stored status, owner and timestamp do not change.",
        ("_atomic_status_transition",),
    ),
    Clause(
        "TRANS-3",
        "Ownership is enforced",
        "Leaving a status that requires ownership is refused with "
        "InvocationStatusOwnershipError for any other runner (record untouched), and "
        "acquiring ownership requires a runner id.",
        ("_atomic_status_transition",),
    ),
    Clause(
        "TRANS-4",
        "Ownership is acquired, kept, released and overridden as defined",
        "After each allowed transition the stored owner is the runner for acquiring "
        "statuses, None for releasing statuses, unchanged otherwise; overriding statuses "
        "(recovery) succeed for any runner.",
        ("_atomic_status_transition",),
    ),
    Clause(
        "ATOM-1",
        "One claim wins among threads",
        "When N threads race to move the same REGISTERED invocation to PENDING, each with "
        "its own runner id, exactly one succeeds and the owner is the winner.",
        ("atomicity-threads",),
    ),
    Clause(
        "ATOM-2",
        "One claim wins among processes",
        "The same race between separate OS processes: exactly one winner per invocation.",
        ("atomicity-processes",),
        capability="cross_process",
    ),
    Clause(
        "ATOM-3",
        "No lost retry increments",
        "Concurrent increment_invocation_retries calls from threads and from processes "
        "are all counted.",
        ("increment_invocation_retries",),
    ),
    Clause(
        "ATOM-4",
        "At most one RUNNING atomic-service record",
        "Concurrent record_atomic_service_execution_start(RUNNING) calls from different "
        "live runners accept exactly one; the others are told False.",
        ("record_atomic_service_execution_start",),
    ),
    Clause(
        "CC-1",
        "Running concurrency is atomic among threads",
        "For running_concurrency TASK, KEYS and ARGUMENTS, N threads start conflicting "
        "PENDING invocations of one task at once, each as pynenc's DistributedInvocation.run "
        "does: is_authorize_to_run_by_concurrency_control, then reroute_invocations when "
        "refused, else set_invocation_status(RUNNING); every thread checks before any "
        "writes. Exactly one ends RUNNING; the others are refused "
        "(InvocationStatusError) or REROUTED.",
        ("running-concurrency",),
    ),
    Clause(
        "CC-2",
        "Running concurrency is atomic among processes",
        "The CC-1 race between separate OS processes.",
        ("running-concurrency",),
        capability="cross_process",
    ),
    Clause(
        "CC-3",
        "Registration concurrency is atomic among processes",
        "For registration_concurrency TASK, KEYS and ARGUMENTS, N OS processes call "
        "route_call for the same call at the same instant (three rounds): all get the "
        "same invocation, and only one is stored per call (per task for TASK).",
        ("route_call", "registration-concurrency"),
        capability="cross_process",
    ),
    Clause(
        "QUERY-1",
        "Existing invocations by task, arguments and statuses",
        "get_existing_invocations returns exactly the task's invocations whose indexed "
        "arguments match every given key/value and whose status is in the given "
        "statuses (all statuses when None).",
        ("get_existing_invocations", "index_arguments_for_concurrency_control"),
    ),
    Clause(
        "QUERY-2",
        "Invocations by task id",
        "get_task_invocation_ids returns exactly the invocations of that task.",
        ("get_task_invocation_ids",),
    ),
    Clause(
        "QUERY-3",
        "Invocations by call id",
        "get_call_invocation_ids returns exactly the invocations of that call.",
        ("get_call_invocation_ids",),
    ),
    Clause(
        "PAGE-1",
        "Pagination is newest first by registration time",
        "get_invocation_ids_paginated orders by registration time, newest first, "
        "whatever happened to the statuses since.",
        ("get_invocation_ids_paginated", "newest-first-pagination"),
    ),
    Clause(
        "PAGE-2",
        "Paging neither skips nor repeats",
        "Reading all pages while statuses change returns every matching invocation "
        "exactly once; limit and offset are honoured.",
        ("get_invocation_ids_paginated",),
    ),
    Clause(
        "PAGE-3",
        "Counts agree with the filters",
        "count_invocations with task and status filters equals the number of ids that "
        "pagination returns for the same filters.",
        ("count_invocations",),
    ),
    Clause(
        "FILTER-1",
        "filter_by_status",
        "filter_by_status returns the given ids whose status is in the filter, ignores "
        "unknown ids, and returns [] for an empty list; filter_final uses final statuses.",
        ("filter_by_status",),
    ),
    Clause(
        "RETRY-1",
        "Retry counts",
        "get_invocation_retries is 0 after registration and grows by one per "
        "increment_invocation_retries.",
        ("get_invocation_retries", "increment_invocation_retries"),
    ),
    Clause(
        "BLOCK-1",
        "Blocking invocations",
        "After waiting_for_results(w, [a, b]), get_blocking_invocations returns a and b "
        "while they wait on nothing and are available for run; never w.",
        ("waiting_for_results", "get_blocking_invocations"),
    ),
    Clause(
        "BLOCK-2",
        "Blocking look-up honours status, order and limit",
        "Only invocations in an available-for-run status are returned, oldest "
        "registration first, at most max_num_invocations.",
        ("get_blocking_invocations", "blocking-oldest-first"),
    ),
    Clause(
        "BLOCK-3",
        "Releasing waiters",
        "release_waiters(x) removes x from the graph: x is no longer blocking, and a "
        "waiter whose last wait was x becomes blocking if others wait on it.",
        ("release_waiters",),
    ),
    Clause(
        "PURGE-1",
        "Auto purge",
        "An invocation set up for auto purge is removed by auto_purge once "
        "auto_final_invocation_purge_hours have passed, and not before.",
        ("set_up_invocation_auto_purge", "auto_purge"),
    ),
    Clause(
        "PURGE-2",
        "purge removes only this app's invocations",
        "purge removes every invocation and blocking record of the app; a second app on "
        "the same backend keeps its records.",
        ("purge",),
    ),
    Clause(
        "PURGE-3",
        "purge removes runners and atomic-service executions",
        "After purge the app has no active runners and no atomic-service executions, "
        "RUNNING or finished; a second app keeps its own.",
        ("purge", "purge-everything"),
    ),
    Clause(
        "ISO-1",
        "Every look-up sees only its own app",
        "Two apps share one backend with the same task ids, call ids and runner ids. Each "
        "sees only its own rows in every look-up: invocation ids by task and by call, "
        "pages, counts, status filters, existing invocations, blocking invocations, "
        "recovery look-ups, active runners and atomic-service executions; transitions "
        "and retries of one app leave the other's untouched.",
        ("app-isolation",),
    ),
    Clause(
        "RUN-1",
        "Heartbeats and active runners",
        "Runners that sent a heartbeat within the timeout are active; older ones are not; "
        "the atomic-service filter and consumed queues are honoured.",
        ("register_runner_heartbeats", "_get_active_runners"),
    ),
    Clause(
        "RUN-2",
        "Active-runner order",
        "Active runners are ordered by creation time, then runner id; a heartbeat does "
        "not change a runner's creation time.",
        ("_get_active_runners", "runner-order"),
    ),
    Clause(
        "RUN-3",
        "Liveness through a wall-clock step",
        "A step of the wall clock with no time passing (an NTP step, a resume from "
        "suspend) changes no runner's liveness: after a step forward past the timeout, "
        "a runner that sent a heartbeat just before is still active, its RUNNING "
        "invocations are not due for recovery, and the atomic service it holds is not "
        "given to another runner.",
        (
            "_get_active_runners",
            "_get_running_invocations_for_recovery",
            "record_atomic_service_execution_start",
        ),
    ),
    Clause(
        "REC-1",
        "Stuck PENDING recovery look-up",
        "get_pending_invocations_for_recovery returns PENDING invocations older than "
        "max_pending_seconds, and not younger ones or other statuses.",
        ("get_pending_invocations_for_recovery",),
    ),
    Clause(
        "REC-2",
        "Dead-owner RUNNING recovery look-up",
        "_get_running_invocations_for_recovery returns RUNNING invocations whose owner "
        "sent no heartbeat within the timeout, and not those of live runners.",
        ("_get_running_invocations_for_recovery",),
    ),
    Clause(
        "REC-3",
        "A former owner cannot finish a recovered invocation",
        "Once a dead runner's invocation was recovered and run by another runner, "
        "set_invocation_result and set_invocation_exception of the former owner raise "
        "and store nothing: the status, result and exception stay the new owner's.",
        ("set_invocation_result", "set_invocation_exception"),
    ),
    Clause(
        "AS-1",
        "Atomic-service claim",
        "A RUNNING start with no active execution returns True and the execution is "
        "listed by get_active_atomic_service_executions.",
        ("record_atomic_service_execution_start", "get_active_atomic_service_executions"),
    ),
    Clause(
        "AS-2",
        "Blocked claims",
        "A RUNNING start while another live runner's execution is RUNNING returns False, "
        "stays out of the active list, and is recorded as a zero-width BLOCKED row.",
        ("record_atomic_service_execution_start",),
    ),
    Clause(
        "AS-3",
        "Idempotent finalize",
        "finalize_atomic_service_execution closes the RUNNING record; a second "
        "finalisation does not change it; without a prior record a zero-width row is "
        "inserted.",
        ("finalize_atomic_service_execution",),
    ),
    Clause(
        "AS-4",
        "Execution time ranges",
        "get_atomic_service_executions_in_timerange returns executions overlapping the "
        "range, newest first, honouring runner_id, min_duration_seconds and limit.",
        ("get_atomic_service_executions_in_timerange",),
    ),
    Clause(
        "AS-5",
        "Execution retention",
        "purge_atomic_service_executions drops finished records older than the retention "
        "time and keeps RUNNING ones.",
        ("purge_atomic_service_executions",),
    ),
    Clause(
        "AS-6",
        "A dead holder does not keep the atomic service",
        "A RUNNING execution whose runner sent no heartbeat for "
        "runner_considered_dead_after_minutes does not block the next claim of a live "
        "runner: the claim returns True and the live runner's execution is the only "
        "active one.",
        ("record_atomic_service_execution_start", "dead-holder"),
    ),
    Clause(
        "MODEL-1",
        "Agreement with the reference model",
        "Random sequences of registrations, transitions by various runners, retries, waits "
        "and releases leave statuses, owners, retries, blocking look-ups, counts and status "
        "filters exactly as a pure-Python model of this contract predicts.",
        ("state-machine",),
    ),
    Clause(
        "FLOW-1",
        "route_call with registration concurrency",
        "With registration_concurrency=ARGUMENTS, routing the same call twice returns one "
        "REGISTERED invocation; a different call gets a new one.",
        ("route_call",),
    ),
    Clause(
        "FLOW-2",
        "Invocations to run",
        "get_invocations_to_run returns blocking invocations first, then routed ones, and "
        "moves each to PENDING owned by the runner.",
        ("get_invocations_to_run",),
    ),
    Clause(
        "FLOW-3",
        "Reroute",
        "reroute_invocations moves CONCURRENCY_CONTROLLED invocations to REROUTED.",
        ("reroute_invocations",),
    ),
)


#: Guarantees pynenc's docstrings state beyond one method's existence (name -> where and
#: what); each must be covered by a clause.
GUARANTEES = {
    "unknown-id-keyerror": "get_invocation_status_record: raises KeyError for an unknown id",
    "newest-first-pagination": "get_invocation_ids_paginated: ordered by registration "
    "time (newest first)",
    "blocking-oldest-first": "get_blocking_invocations: ordered by age (oldest first)",
    "runner-order": "_get_active_runners: ordered by creation_time, then runner_id",
    "app-isolation": "purge and every look-up: data of the current app_id only",
    "atomicity-threads": "_atomic_status_transition: atomic (threads of one runner)",
    "atomicity-processes": "_atomic_status_transition: atomic (runner processes)",
    "state-machine": "_atomic_status_transition: pynenc's status and ownership rules",
    "running-concurrency": "_is_authorize_by_concurrency_control: no other RUNNING "
    "invocation of the task (TASK), its arguments (ARGUMENTS) or its keys (KEYS)",
    "registration-concurrency": "route_call: a call reuses the REGISTERED invocation its "
    "registration_concurrency matches",
    "dead-holder": "record_atomic_service_execution_start: the slot is held by an active "
    "execution; runners without a heartbeat within the timeout are inactive",
    "purge-everything": "purge: all the orchestrator data of the app_id",
}

"""Defects of pynenc 0.4.0's orchestrators that the contract finds in more than one backend.

Each is a :class:`KnownFailure` that the descriptions in this package list under the
tests it breaks.
"""

from pynenc_contract import KnownFailure

REGISTERED_KEEPS_OWNER = KnownFailure(
    "pynenc: REGISTERED keeps an owner",
    "_register_new_invocations stores the registering runner as owner of a REGISTERED "
    "invocation (REG-1); the base class documents no owner",
)
PAGES_BY_LAST_CHANGE = KnownFailure(
    "pynenc: pages by last status change",
    "get_invocation_ids_paginated orders by the last status change, not newest registration "
    "first as documented, so pages skip and repeat while statuses change (PAGE-1/2)",
)
BLOCKING_NOT_OLDEST_FIRST = KnownFailure(
    "pynenc: blocking look-up order",
    "get_blocking_invocations does not return the oldest waited invocations first (BLOCK-2)",
)
HEARTBEAT_ERASES_QUEUES = KnownFailure(
    "pynenc: heartbeat erases queues",
    "a heartbeat without consumed_queues erases the queues given earlier (RUN-1)",
)

RUNNING_CONCURRENCY_RACE = KnownFailure(
    "pynenc-3",
    "DistributedInvocation.run checks running_concurrency "
    "(is_authorize_to_run_by_concurrency_control) and writes RUNNING in two separate "
    "orchestrator calls, so two runners both pass the check; an orchestrator can close "
    "the race by checking inside the RUNNING transition, as pynenc-sqlite does (CC-1, CC-2)",
    "pynenc-scenarios scenario concurrency --quick --runner ThreadRunner --backend SPEC",
)
REGISTRATION_RACE = KnownFailure(
    "pynenc-8",
    "BaseOrchestrator.route_call looks up an existing REGISTERED invocation, then "
    "registers a new one and only afterwards indexes its arguments, in separate calls; "
    "concurrent clients all miss each other; pynenc-sqlite closes it in one transaction "
    "(CC-3)",
    "pynenc-scenarios scenario registration --quick --backend SPEC",
)
DEAD_HOLDER_KEEPS_SERVICE = KnownFailure(
    "pynenc-4",
    "pynenc's orchestrators (memory and SQLite) never expire the RUNNING atomic-service "
    "record of a runner that stopped sending heartbeats; every later claim is BLOCKED, so "
    "triggers and recovery stop for good (AS-6)",
    "pynenc-scenarios scenario atomic_service --quick "
    "--backend adapters.pynenc_builtin_backends:BUILTIN_SQLITE",
)

#: Test ids of the running- and registration-concurrency races (CC-1, CC-2, CC-3).
RUNNING_RACES = "test_concurrency_control.py::test_running_concurrency_holds_among_*"
REGISTRATION_RACES = "test_concurrency_control.py::test_registration_concurrency_holds_among_*"
DEAD_HOLDER = "test_atomic_service.py::test_a_dead_holder_does_not_keep_the_service"

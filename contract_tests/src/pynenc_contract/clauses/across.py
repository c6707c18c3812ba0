"""Clauses across components: promises that hold only when all five work together."""

from pynenc_contract.clauses.clause import Clause

CLAUSES = (
    Clause(
        "ACROSS-1",
        "One app's purge leaves another app's invocations runnable",
        "Two apps share one storage and route the same calls with arguments above the "
        "client data store's threshold; each runs one to SUCCESS. After Pynenc.purge of "
        "the first (every component), the second's finished invocation keeps its status "
        "and its result reads back, and its queued invocation is still taken from its "
        "broker, moved to PENDING by the orchestrator, its arguments read back from the "
        "client data store, and it runs to SUCCESS.",
        ("app-isolation",),
        kind=None,
    ),
    Clause(
        "ACROSS-2",
        "Invocations routed in one process run in others",
        "Invocations with large arguments routed by one process are taken from the broker "
        "and run by racing OS processes of the same app, each exactly once; the router then "
        "reads every SUCCESS status and result.",
        capability="cross_process",
        kind=None,
    ),
)

GUARANTEES: dict[str, str] = {}

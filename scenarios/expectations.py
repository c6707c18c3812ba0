"""Known failures: which checks are expected to fail, where, and why.

A case whose only failing checks are listed here is ``xfail``; a listed check
that passes is ``xpass`` and fails the run, so that this table is updated as
soon as a defect is fixed (in pynenc, or in our orchestrator for the entries
marked ``orchestrator-fixable``).
"""

from dataclasses import dataclass
from typing import Literal

PYNENC = "pynenc 0.4.0"
Cause = Literal["pynenc", "orchestrator-fixable", "our-orchestrator", "broken-on-purpose"]


@dataclass(frozen=True)
class KnownFailure:
    """A defect that makes a check fail, with a command that reproduces it."""

    key: str
    title: str
    cause: Cause
    repro: str


PROCESS_RUNNER_PAUSE = KnownFailure(
    "pynenc-1a",
    f"{PYNENC}: ProcessRunner sets PAUSED for a waiting parent with the parent "
    "runner's id while its worker owns the invocation (InvocationStatusOwnershipError, "
    "retried in a busy loop); the parent keeps its slot, so more waiting parents "
    "than slots never finish",
    "pynenc",
    "python scenarios/fanout.py --quick --runner ProcessRunner",
)
PERSISTENT_RUNNER_WAIT = KnownFailure(
    "pynenc-1b",
    f"{PYNENC}: a PersistentProcessRunner worker waiting for its children sleeps in "
    "place and keeps its process; more waiting parents than worker processes never "
    "finish",
    "pynenc",
    "python scenarios/fanout.py --quick --runner PersistentProcessRunner",
)
RUNNING_CONCURRENCY_RACE = KnownFailure(
    "pynenc-3",
    f"{PYNENC}: DistributedInvocation.run checks running_concurrency "
    "(is_authorize_to_run_by_concurrency_control) and writes RUNNING in two separate "
    "orchestrator calls, so two runners can both pass the check; an orchestrator can "
    "close the race by checking inside the RUNNING transition, as PynencSQLiteOrchestrator "
    "does",
    "orchestrator-fixable",
    "python scenarios/concurrency.py --quick --runner ThreadRunner",
)
REGISTRATION_RACE = KnownFailure(
    "pynenc-8",
    f"{PYNENC}: BaseOrchestrator.route_call looks up an existing REGISTERED invocation, "
    "then registers a new one and only afterwards indexes its arguments, in separate "
    "calls; concurrent clients all miss each other. An orchestrator can close it by "
    "overriding route_call (look-up, insert and argument index in one transaction), "
    "as PynencSQLiteOrchestrator does",
    "orchestrator-fixable",
    "python scenarios/registration.py --quick",
)
STALE_ATOMIC_RECORD = KnownFailure(
    "pynenc-4",
    f"{PYNENC}: the built-in SQLiteOrchestrator never expires the RUNNING "
    "atomic-service record of a killed runner; every later claim is BLOCKED, so "
    "triggers and recovery stop for good",
    "pynenc",
    "python scenarios/atomic_service.py --quick --orchestrator builtin",
)
ORPHAN_WORKERS = KnownFailure(
    "pynenc-5",
    f"{PYNENC}: killing only a runner's parent leaves its workers running with no "
    "heartbeat; recovery reroutes their invocations and another runner runs them "
    "while the orphan still does",
    "pynenc",
    "python scenarios/crash_recovery.py --quick --runner PersistentProcessRunner",
)
BROKEN_CLAIM = KnownFailure(
    "broken-claim",
    "BrokenClaimOrchestrator (scenarios/broken_orchestrator.py) claims without a "
    "transaction on purpose: two runners claim the same invocation",
    "broken-on-purpose",
    "python scenarios/fanout.py --quick --runner ThreadRunner --orchestrator broken-claim",
)

ANY = "*"

#: (scenario, check name, runner types, orchestrators, variants) -> known failure.
_RULES: tuple[
    tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], KnownFailure], ...
] = (
    (
        "fanout",
        "all invocations registered and SUCCESS (none lost)",
        ("ProcessRunner",),
        (ANY,),
        (ANY,),
        PROCESS_RUNNER_PAUSE,
    ),
    (
        "fanout",
        "all invocations registered and SUCCESS (none lost)",
        ("PersistentProcessRunner",),
        (ANY,),
        (ANY,),
        PERSISTENT_RUNNER_WAIT,
    ),
    ("fanout", "no body ran more than once", (ANY,), ("broken-claim",), (ANY,), BROKEN_CLAIM),
    (
        "fanout",
        "histories replay under pynenc's status rules",
        (ANY,),
        ("broken-claim",),
        (ANY,),
        BROKEN_CLAIM,
    ),
    (
        "concurrency",
        "never two RUNNING at once for the same key (histories)",
        (ANY,),
        ("builtin",),
        (ANY,),
        RUNNING_CONCURRENCY_RACE,
    ),
    (
        "concurrency",
        "never two bodies at once for the same key (probes)",
        (ANY,),
        ("builtin",),
        (ANY,),
        RUNNING_CONCURRENCY_RACE,
    ),
    (
        "registration",
        "one invocation per call",
        (ANY,),
        ("builtin",),
        (ANY,),
        REGISTRATION_RACE,
    ),
    (
        "atomic_service",
        "service resumes after its holder is killed",
        (ANY,),
        ("builtin",),
        (ANY,),
        STALE_ATOMIC_RECORD,
    ),
    (
        "crash_recovery",
        "no invocation ran in two processes at once",
        ("MultiThreadRunner", "ProcessRunner", "PersistentProcessRunner"),
        (ANY,),
        ("parent-only",),
        ORPHAN_WORKERS,
    ),
)


def _matches(value: str, accepted: tuple[str, ...]) -> bool:
    return ANY in accepted or value in accepted


def expected_failure(
    scenario: str, check: str, runner_type: str, orchestrator: str, variant: str
) -> KnownFailure | None:
    """The known failure expected for this check in this case, if any."""
    for rule_scenario, rule_check, runners, orchestrators, variants, known in _RULES:
        if (
            rule_scenario == scenario
            and rule_check == check
            and _matches(runner_type, runners)
            and _matches(orchestrator, orchestrators)
            and _matches(variant, variants)
        ):
            return known
    return None


def all_known_failures() -> list[KnownFailure]:
    """Every known failure, once."""
    return list(dict.fromkeys(rule[-1] for rule in _RULES))

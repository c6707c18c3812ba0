"""Known failures that come from pynenc itself, whatever the backend.

A backend's own known failures live in its description (``known_failures``, keyed
``"<scenario>/<case>: <check>"``, ``*`` allowed); the defects here are pynenc's
runners', so every backend shows them. Both use one format,
:class:`pynenc_contract.KnownFailure`. A case whose only failing checks are known is
``xfail``; a known check that passes is ``xpass`` and fails the run.
"""

from pynenc_contract import BackendDescription, KnownFailure
from pynenc_contract.backend import find_known

PYNENC = "pynenc 0.4.0"

PAUSED_BODIES_RUN_ON = KnownFailure(
    "pynenc-15",
    f"{PYNENC}: a runner paused past the dead timeout (SIGSTOP, a VM freeze) goes on with "
    "the bodies it was running once continued, although recovery has run them on another "
    "runner meanwhile; its runner never checks that it still owns them",
    "pynenc-scenarios scenario crash_recovery --quick --runner ThreadRunner --backend SPEC",
)

PYNENC_DEFECTS: dict[str, KnownFailure] = {
    "fanout/PR: all invocations registered and SUCCESS (none lost)": KnownFailure(
        "pynenc-1a",
        f"{PYNENC}: ProcessRunner sets PAUSED for a waiting parent with the parent "
        "runner's id while its worker owns the invocation (InvocationStatusOwnershipError, "
        "retried in a busy loop); the parent keeps its slot, so more waiting parents "
        "than slots never finish",
        "pynenc-scenarios scenario fanout --quick --runner ProcessRunner --backend SPEC",
    ),
    "fanout/PPR: all invocations registered and SUCCESS (none lost)": KnownFailure(
        "pynenc-1b",
        f"{PYNENC}: a PersistentProcessRunner worker waiting for its children sleeps in "
        "place and keeps its process; more waiting parents than worker processes never "
        "finish",
        "pynenc-scenarios scenario fanout --quick --runner PersistentProcessRunner --backend SPEC",
    ),
    "crash_recovery/*/parent-only: no invocation ran in two processes at once": KnownFailure(
        "pynenc-5",
        f"{PYNENC}: killing only a runner's parent leaves its workers running with no "
        "heartbeat; recovery reroutes their invocations and another runner runs them "
        "while the orphan still does",
        "pynenc-scenarios scenario crash_recovery --quick --runner PersistentProcessRunner "
        "--backend SPEC",
    ),
    "crash_recovery/*/pause: no invocation ran in two processes at once": PAUSED_BODIES_RUN_ON,
    "concurrency/*/pause: never two bodies at once for the same key (probes)": (
        PAUSED_BODIES_RUN_ON
    ),
    "atomic_service/*/pause: a continued holder's service body never runs alongside "
    "another runner's": KnownFailure(
        "pynenc-17",
        f"{PYNENC}: a runner paused past the dead timeout while it ran the atomic service "
        "finishes that run once continued, although another runner holds the service by "
        "then; BaseRunner._check_atomic_services never asks whether its run still holds it",
        "pynenc-scenarios scenario atomic_service --quick --runner ThreadRunner --backend SPEC",
    ),
}


def expected_failure(backend: BackendDescription, check_id: str) -> KnownFailure | None:
    """The backend's known failure of a check, else pynenc's, if any."""
    return backend.known_failure(check_id) or find_known(PYNENC_DEFECTS, check_id)

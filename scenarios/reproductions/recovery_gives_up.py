"""pynenc-9: two recoveries of RUNNING invocations at once strand one in RUNNING_RECOVERY.

pynenc 0.4.0's ``recover_running_invocations`` lists the RUNNING invocations of dead
runners, sets each to RUNNING_RECOVERY, and only then reroutes them all. When another
recovery (another runner's cron, or a recovery run by hand) takes one of the listed
invocations first, the set raises InvocationStatusTransitionError and the first
recovery gives up: the invocations it already moved stay RUNNING_RECOVERY, which no
later recovery picks up. This script runs the second recovery right after the first
one's first write:

    python scenarios/reproductions/recovery_gives_up.py [memory|ours|builtin]

On ours and the built-in SQLite orchestrator one invocation stays ``running_recovery``;
pynenc's memory orchestrator lists lazily, so this interleaving does not show there.
"""

import sys
import tempfile
from typing import Any

from pynenc import context
from pynenc.builder import PynencBuilder
from pynenc.core_tasks import recover_running_invocations
from pynenc.exceptions import InvocationStatusError
from pynenc.invocation.status import InvocationStatus
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract import kit


def main(backend: str) -> int:
    builder = PynencBuilder().app_id("recovery-gives-up").memory()
    if backend == "ours":
        builder = builder.sqlite_orchestrator(f"{tempfile.mkdtemp()}/orchestrator.sqlite3")
    elif backend == "builtin":
        builder = builder.sqlite(f"{tempfile.mkdtemp()}/components.sqlite3")
    app = builder.build()
    first, second = kit.registered(app, 2)
    for invocation_id in (first, second):  # RUNNING, owned by a runner with no heartbeat
        kit.walk(app, invocation_id, kit.path_to(InvocationStatus.RUNNING))
    context.set_current_app(app)
    context.set_runner_context(app.app_id, RunnerContext("RecoveryA"))
    orchestrator: Any = app.orchestrator
    set_status = orchestrator.set_invocation_status

    def second_recovery_after_first_write(invocation_id: Any, status: Any, ctx: Any) -> None:
        set_status(invocation_id, status, ctx)
        if invocation_id == first:
            orchestrator.set_invocation_status = set_status
            recover_running_invocations()  # another runner's recovery, now

    orchestrator.set_invocation_status = second_recovery_after_first_write
    try:
        recover_running_invocations()
    except InvocationStatusError as error:
        print(f"the first recovery gave up: {type(error).__name__}")
    statuses = {i: orchestrator.get_invocation_status(i) for i in (first, second)}
    for invocation_id, status in statuses.items():
        print(f"{invocation_id[:8]} {status.value}")
    stranded = [i for i, s in statuses.items() if s == InvocationStatus.RUNNING_RECOVERY]
    due = list(orchestrator.get_running_invocations_for_recovery())
    print(f"stranded in running_recovery: {len(stranded)}; due for recovery now: {len(due)}")
    return 1 if stranded else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "ours"))

"""pynenc-10: a runner killed after it took an invocation from the broker, and before it
claimed it, loses that invocation for good.

pynenc 0.4.0's ``get_additional_invocations_to_run`` pops an invocation id from the
broker, reads its status, loads it from the state backend, checks concurrency, and
only then sets it PENDING. A runner that dies between the pop and that write leaves
the invocation REGISTERED with no broker message: no runner will take it, and no
recovery lists it (they look for PENDING and RUNNING invocations). The crash
scenario saw it under load (MultiThreadRunner, a worker killed while it claimed its
second task). This script takes the message in a child process that exits at once:

    python scenarios/reproductions/lost_between_broker_and_claim.py

Exit status 1 when the invocation is lost (pynenc 0.4.0, any orchestrator).
"""

import os
import sys
import tempfile
from pathlib import Path

from pynenc.builder import PynencBuilder
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit


def main() -> int:
    workdir = Path(tempfile.mkdtemp())
    app = (
        PynencBuilder()
        .app_id("lost-between-broker-and-claim")
        .sqlite(str(workdir / "components.sqlite3"))
        .sqlite_orchestrator(str(workdir / "orchestrator.sqlite3"))
        .build()
    )
    (invocation,) = kit.invocations(app, 1)
    app.orchestrator.route_invocation(invocation)  # queued in the broker, as a call is
    if (pid := os.fork()) == 0:  # a runner: it takes the message, then dies
        app.broker.retrieve_invocation()
        os._exit(0)
    os.waitpid(pid, 0)
    orchestrator = app.orchestrator
    status = orchestrator.get_invocation_status(invocation.invocation_id)
    queued = app.broker.count_invocations()
    recoverable = {
        *orchestrator.get_pending_invocations_for_recovery(),
        *orchestrator.get_running_invocations_for_recovery(),
    }
    print(f"status {status.value}; messages in the broker: {queued}; ", end="")
    print(f"listed for recovery: {invocation.invocation_id in recoverable}")
    lost = status is InvocationStatus.REGISTERED and not queued and not recoverable
    print("lost: no runner will take it and no recovery lists it" if lost else "not lost")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())

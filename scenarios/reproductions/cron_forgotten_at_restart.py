"""pynenc-12: a process that starts forgets when each cron condition last ran.

Every process of an app registers its tasks' trigger conditions when it starts.
pynenc 0.4.0's ``SQLiteTrigger._register_condition`` stores a condition with
``INSERT OR REPLACE``, which replaces the whole row and with it the column that holds
the cron's last execution. So each runner that starts (a restart, a new worker,
scaling out) erases every cron's last execution, and with pynenc-11 the next
atomic-service check runs every cron task again, whatever its schedule. This
script stores a last execution, then starts a second app on the same file (a
runner starting) and reads it back:

    python scenarios/reproductions/cron_forgotten_at_restart.py [builtin|ours]

pynenc's SQLite trigger (builtin) reads None: forgotten; pynenc-sqlite's trigger
(ours) keeps it.
"""

import sys
import tempfile
from datetime import UTC, datetime

from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc.trigger.conditions.cron import CronCondition

ONCE_A_YEAR = "0 0 1 1 *"
LAST_RUN = datetime(2026, 1, 1, tzinfo=UTC)


def start_process(backend: str, path: str) -> Pynenc:
    """The app as a newly started process of the deployment builds it."""
    builder = PynencBuilder().app_id("cron-forgotten-at-restart").logging_level("warning")
    return (builder.sqlite_stack(path) if backend == "ours" else builder.sqlite(path)).build()


def main(backend: str) -> int:
    path = f"{tempfile.mkdtemp()}/{backend}.sqlite3"
    first = start_process(backend, path).trigger
    condition = CronCondition(ONCE_A_YEAR)
    first.register_condition(condition)
    first.store_last_cron_execution(condition.condition_id, LAST_RUN)
    print(f"{type(first).__name__}: stored last execution {LAST_RUN:%Y-%m-%d %H:%M}")
    restarted = start_process(backend, path).trigger
    restarted.register_condition(CronCondition(ONCE_A_YEAR))
    remembered = restarted.get_last_cron_execution(condition.condition_id)
    print(f"last execution after a process started: {remembered}")
    return 0 if remembered == LAST_RUN else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "builtin"))

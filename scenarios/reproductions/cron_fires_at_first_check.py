"""pynenc-11: a cron condition that never ran fires at the first check, whatever its schedule.

pynenc 0.4.0's ``BaseTrigger._should_trigger_cron_condition`` checks the schedule
only against a cached or stored last execution; when there is none (a fresh
deployment, a new app id, a purged trigger store), it records the condition as
valid without asking whether the current time matches the cron expression. So
the first atomic-service pass of a new deployment runs every cron task once,
pynenc's own recovery core tasks included, whatever ``recover_*_invocations_cron``
says. This script sets both recovery crons to once a year and makes one check at
midsummer:

    python scenarios/reproductions/cron_fires_at_first_check.py

It prints the conditions that check found valid: none is due; pynenc 0.4.0 finds
the one both tasks share, and the atomic service would run both tasks.
"""

import sys
from datetime import UTC, datetime

from pynenc.builder import PynencBuilder
from pynenc.orchestrator.atomic_service import AtomicServiceRun
from pynenc.trigger.conditions.cron import CronCondition, CronContext

ONCE_A_YEAR = "0 0 1 1 *"
MIDSUMMER = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def main() -> int:
    app = (
        PynencBuilder()
        .app_id("cron-fires-at-first-check")
        .logging_level("warning")
        .memory()
        .custom_config(
            recover_pending_invocations_cron=ONCE_A_YEAR,
            recover_running_invocations_cron=ONCE_A_YEAR,
        )
        .build()
    )
    app.register_core_tasks()
    app.register_deferred_triggers()
    due = CronCondition(ONCE_A_YEAR).is_satisfied_by(CronContext(timestamp=MIDSUMMER))
    print(f"is {ONCE_A_YEAR!r} due at {MIDSUMMER:%Y-%m-%d %H:%M}? {due}")
    app.trigger.check_time_based_triggers(
        MIDSUMMER, atomic_service_run=AtomicServiceRun(runner_id="reproduction")
    )
    valid = app.trigger.get_valid_conditions()
    for condition in valid.values():
        print(f"found valid by the first check: {condition.condition.condition_id}")
    print(f"conditions found valid: {len(valid)}")
    return 1 if valid else 0


if __name__ == "__main__":
    sys.exit(main())

"""pynenc-sqlite's trigger beyond pynenc's own suite (``nox -s pynenc_suites``):
processes racing for the same claims, a cron's last execution across process starts,
apps sharing a file."""

from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from pynenc.trigger.arguments import create_argument_filter
from pynenc.trigger.conditions import CronCondition, EventCondition, EventContext, ValidCondition
from pynenc.trigger.monitoring import EventRecord

from conftest import JOURNAL_MODE
from pynenc_contract.workers import run_workers
from pynenc_sqlite import PynencSQLiteTrigger
from pynenc_sqlite.contract import stack

PROCESSES = 4
RUNS = 200
APP_ID = "trigger-race"
EVERY_MINUTE = "* * * * *"
NOON = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _trigger(app_id: str, workdir: Path) -> PynencSQLiteTrigger:
    """The trigger of a new app on ``workdir``'s stack: a process starting."""
    trigger = stack(JOURNAL_MODE).new_app(app_id, workdir).trigger
    assert isinstance(trigger, PynencSQLiteTrigger)
    return trigger


def _claim_everything(job: tuple[str, int], barrier: Barrier) -> tuple[list[str], bool]:
    """Once every process is ready, claim every trigger run and this process's cron
    execution of noon; what this process won."""
    workdir, index = job
    trigger = _trigger(APP_ID, Path(workdir))
    condition = CronCondition(EVERY_MINUTE)
    trigger.register_condition(condition)
    barrier.wait(60)
    runs = [run_id for n in range(RUNS) if trigger.claim_trigger_run(run_id := f"run-{n:03d}")]
    cron = trigger.store_last_cron_execution(
        condition.condition_id, NOON + timedelta(microseconds=index), expected_last_execution=None
    )
    return runs, cron


@pytest.mark.crossprocess
@pytest.mark.timeout(300)
def test_processes_racing_for_claims_each_win_different_ones(tmp_path: Path) -> None:
    """Each trigger run is claimed by one process, and one process only stores the
    first execution of a cron: a trigger fires once however many runners check."""
    won = run_workers(
        _claim_everything,
        [(str(tmp_path), index) for index in range(PROCESSES)],
        timeout=240,
        name="claimer",
    )
    claimed = sorted(run_id for runs, _ in won for run_id in runs)
    assert claimed == [f"run-{n:03d}" for n in range(RUNS)]  # none twice, none missed
    winners = [index for index, (_, cron) in enumerate(won) if cron]
    assert len(winners) == 1
    stored = _trigger(APP_ID, tmp_path).get_last_cron_execution(
        CronCondition(EVERY_MINUTE).condition_id
    )
    assert stored == NOON + timedelta(microseconds=winners[0])


def test_an_expired_claim_can_be_claimed_again(tmp_path: Path) -> None:
    trigger = _trigger(APP_ID, tmp_path)
    assert trigger.claim_trigger_run("run", expiration_seconds=0)
    assert trigger.claim_trigger_run("run", expiration_seconds=60)
    assert not trigger.claim_trigger_run("run")


def test_a_cron_keeps_its_last_execution_when_a_process_starts(tmp_path: Path) -> None:
    """A runner that starts registers its tasks' conditions again; the cron's last
    execution stays (pynenc's SQLite trigger erases it: pynenc-12)."""
    first = _trigger(APP_ID, tmp_path)
    first.register_condition(CronCondition(EVERY_MINUTE))
    condition_id = CronCondition(EVERY_MINUTE).condition_id
    assert first.store_last_cron_execution(condition_id, NOON)
    restarted = _trigger(APP_ID, tmp_path)
    restarted.register_condition(CronCondition(EVERY_MINUTE))
    assert restarted.get_last_cron_execution(condition_id) == NOON
    assert not restarted.store_last_cron_execution(condition_id, NOON, None)  # not the latest


def test_cron_times_are_exact_and_naive_times_are_utc(tmp_path: Path) -> None:
    trigger = _trigger(APP_ID, tmp_path)
    trigger.register_condition(CronCondition(EVERY_MINUTE))
    condition_id = CronCondition(EVERY_MINUTE).condition_id
    precise = datetime(2026, 7, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert trigger.store_last_cron_execution(condition_id, precise)
    assert trigger.store_last_cron_execution(condition_id, NOON.replace(tzinfo=None), precise)
    assert trigger.get_last_cron_execution(condition_id) == NOON


def test_apps_sharing_a_file_see_only_their_own_trigger_rows(tmp_path: Path) -> None:
    ours, theirs = _trigger("ours", tmp_path), _trigger("theirs", tmp_path)
    condition = EventCondition("order.paid", create_argument_filter(None))
    for trigger in (ours, theirs):
        trigger.register_condition(condition)
        trigger.record_valid_condition(
            ValidCondition(
                condition, EventContext(event_id=trigger.app.app_id, event_code="order.paid")
            )
        )
        trigger.store_event(EventRecord(event_id=trigger.app.app_id, event_code="order.paid"))
    assert theirs.claim_trigger_run("run")
    assert ours.claim_trigger_run("run")
    ours.purge()
    assert ours.get_valid_conditions() == {}
    assert ours.get_events() == []
    assert [event.event_id for event in theirs.get_events()] == ["theirs"]
    assert len(theirs.get_valid_conditions()) == 1
    assert theirs.get_triggers_for_condition(condition.condition_id) == []
    assert theirs.get_condition(condition.condition_id) is not None


def test_the_stack_keeps_its_trigger_on_its_one_database(tmp_path: Path) -> None:
    trigger = _trigger(APP_ID, tmp_path)
    assert trigger.database is trigger.app.orchestrator.database  # type: ignore[attr-defined]

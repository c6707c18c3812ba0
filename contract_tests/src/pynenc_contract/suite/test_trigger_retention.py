"""Retention of events and trigger runs (auto_purge_events), per app."""

from datetime import UTC, datetime, timedelta
from typing import Any

from pynenc import Pynenc

from pynenc_contract.backend import layer_settings
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory
from pynenc_contract.suite.test_trigger_monitoring import PAID, TASK_A, event, ids, run

EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def kept(trigger: Any) -> tuple[list[str], list[str]]:
    """The ids of the app's events (newest first) and runs (sorted)."""
    runs = trigger.get_trigger_runs_in_timerange(*EVER)
    return ids(trigger.get_events(limit=1000)), sorted(ids(runs))


def with_retention(app: Pynenc, **settings: int) -> Any:
    """The app's trigger, built again with these retention settings."""
    layer_settings(app, settings)
    return app.trigger


def store(trigger: Any, now: datetime, events: dict[str, timedelta], runs: dict[str, Any]) -> None:
    """Events by id with their age; runs by id with their age and the events they name."""
    for event_id, age in events.items():
        trigger.store_event(event(event_id, PAID, now - age))
    for run_id, (age, *named) in runs.items():
        trigger.store_trigger_run(run(run_id, TASK_A, now - age, *named))


@clause("TRIG-11")
def test_old_events_and_runs_go_with_the_runs_that_name_them(app: Pynenc) -> None:
    trigger = with_retention(app, event_retention_days=1)
    now, hour = datetime.now(UTC), timedelta(hours=1)
    events = {"old": 72 * hour, "recent": 2 * hour}
    runs = {"run-old": (72 * hour,), "run-names-old": (hour, "old"), "run-recent": (hour,)}
    store(trigger, now, events, runs)
    trigger.auto_purge_events()
    assert kept(trigger) == (["recent"], ["run-recent"])


@clause("TRIG-11")
def test_only_the_newest_events_and_runs_are_kept_up_to_the_caps(app: Pynenc) -> None:
    trigger = with_retention(app, event_max_records=3, trigger_run_max_records=2)
    now, minute = datetime.now(UTC), timedelta(minutes=1)
    events = {f"e{n}": (60 - n) * minute for n in range(1, 5)}  # e4 the newest
    runs = {
        "run-names-e1": (5 * minute, "e1"),  # the newest runs, deleted with e1
        "run-1": (40 * minute,),
        "run-2": (30 * minute, "e2"),
        "run-3": (20 * minute, "e4"),
    }
    store(trigger, now, events, runs)
    trigger.auto_purge_events()
    assert kept(trigger) == (["e4", "e3", "e2"], ["run-2", "run-3"])


@clause("TRIG-11")
def test_nothing_is_deleted_when_auto_purge_is_off(app: Pynenc) -> None:
    trigger = with_retention(app, event_retention_days=1, event_auto_purge_enabled=False)
    now, hour = datetime.now(UTC), timedelta(hours=1)
    store(trigger, now, {"old": 72 * hour}, {"run-old": (72 * hour, "old")})
    assert trigger.auto_purge_events() == 0
    assert kept(trigger) == (["old"], ["run-old"])


#: Both apps store the same ids, dated alike.
HOUR = timedelta(hours=1)
TWIN_EVENTS = {"old": 72 * HOUR, "mid": 36 * HOUR, "r1": 2 * HOUR, "r2": HOUR, "r3": HOUR / 2}
TWIN_RUNS = {
    "run-old": (72 * HOUR,),
    "run-mid": (36 * HOUR,),
    "run-names-mid": (HOUR / 3, "mid"),
    "run-a": (HOUR / 2,),
    "run-b": (HOUR / 4,),
    "run-c": (HOUR / 6,),
}


@clause("TRIG-12")
def test_each_app_purges_only_its_own_by_its_own_settings(app_factory: AppFactory) -> None:
    strict = with_retention(
        app_factory(), event_retention_days=1, event_max_records=2, trigger_run_max_records=2
    )
    lenient = with_retention(app_factory(), event_retention_days=2)
    now = datetime.now(UTC)
    for trigger in (strict, lenient):
        store(trigger, now, TWIN_EVENTS, TWIN_RUNS)
    everything = (["r3", "r2", "r1", "mid", "old"], sorted(TWIN_RUNS))
    strict_kept = (["r3", "r2"], ["run-b", "run-c"])

    strict.auto_purge_events()
    assert kept(strict) == strict_kept
    assert kept(lenient) == everything, "the strict app's purge deleted the other's rows"

    lenient.auto_purge_events()
    lenient_kept = sorted(set(TWIN_RUNS) - {"run-old"})
    assert kept(lenient) == (["r3", "r2", "r1", "mid"], lenient_kept)
    assert kept(strict) == strict_kept, "the lenient app's purge changed the other's rows"

"""The trigger's monitoring records: events, trigger runs, and the links between them."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynenc.trigger.monitoring import EventRecord, TriggerRunParticipant, TriggerRunRecord

from pynenc_contract.clauses import clause

PAID, SHIPPED = "order.paid", "order.shipped"
TASK_A, TASK_B = "contract.trigger.task_a", "contract.trigger.task_b"


def start() -> datetime:
    """Two hours ago, to the second: every record of a test is dated from it."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def event(event_id: str, code: str, at: datetime, **fields: Any) -> EventRecord:
    return EventRecord(event_id=event_id, event_code=code, timestamp=at, **fields)


def run(run_id: str, task: str, at: datetime, *event_ids: str, **fields: Any) -> TriggerRunRecord:
    """A run of task ``task`` executed ``at``, naming ``event_ids`` (as pynenc does: in
    its list and as participants)."""
    return TriggerRunRecord(
        trigger_run_id=run_id,
        trigger_id=f"trigger-{task}",
        task_id_key=task,
        logic_value="or",
        event_ids=list(event_ids),
        valid_condition_ids=[f"valid-{event_id}" for event_id in event_ids],
        participants=[
            TriggerRunParticipant(
                context_type="EventContext",
                condition_id=f"event#{event_id}",
                valid_condition_id=f"valid-{event_id}",
                event_id=event_id,
            )
            for event_id in event_ids
        ],
        claimed_at=at,
        executed_at=at,
        **{"triggered_invocation_id": f"invocation-of-{run_id}", **fields},
    )


def ids(records: Iterable[EventRecord | TriggerRunRecord]) -> list[str]:
    return [r.event_id if isinstance(r, EventRecord) else r.trigger_run_id for r in records]


def store_events(trigger: Any, t0: datetime) -> None:
    """e1..e4, a minute apart: e1 and e3 matched, e3 triggered, e1 and e3 emitted by
    invocation-1 of task A, e2 by invocation-2 of task B."""
    minute = timedelta(minutes=1)
    by_1 = {"emitted_by_invocation_id": "invocation-1", "emitted_by_task_id": TASK_A}
    for record in (
        event("e1", PAID, t0 + minute, payload={"n": 1}, matched_condition_ids=["c"], **by_1),
        event(
            "e2",
            PAID,
            t0 + 2 * minute,
            emitted_by_invocation_id="invocation-2",
            emitted_by_task_id=TASK_B,
        ),
        event(
            "e3",
            SHIPPED,
            t0 + 3 * minute,
            matched_condition_ids=["c"],
            triggered_invocation_ids=["invocation-9"],
            **by_1,
        ),
        event("e4", PAID, t0 + 4 * minute),
    ):
        trigger.store_event(record)


@clause("TRIG-9")
def test_events_are_found_by_every_filter_newest_first(trigger: Any) -> None:
    t0 = start()
    store_events(trigger, t0)
    got = trigger.get_event("e1")
    assert got is not None
    assert (got.event_code, got.payload, got.timestamp, got.matched_condition_ids) == (
        PAID,
        {"n": 1},
        t0 + timedelta(minutes=1),
        ["c"],
    )
    assert (got.emitted_by_invocation_id, got.emitted_by_task_id) == ("invocation-1", TASK_A)
    assert trigger.get_event("never-stored") is None

    events = trigger.get_events
    assert ids(events()) == ["e4", "e3", "e2", "e1"]
    assert ids(events(event_code=PAID)) == ["e4", "e2", "e1"]
    window = {"start_time": t0 + timedelta(seconds=90), "end_time": t0 + timedelta(seconds=210)}
    assert ids(events(**window)) == ["e3", "e2"]
    assert ids(events(matched=True)) == ["e3", "e1"]
    assert ids(events(matched=False)) == ["e4", "e2"]
    assert ids(events(triggered=True)) == ["e3"]
    assert ids(events(triggered=False)) == ["e4", "e2", "e1"]
    assert ids(events(emitted_by_invocation_id="invocation-1")) == ["e3", "e1"]
    assert ids(events(emitted_by_task_id=TASK_B)) == ["e2"]
    assert ids(events(event_code=PAID, matched=False, **window)) == ["e2"]
    assert ids(events(limit=2)) == ["e4", "e3"]
    assert ids(events(limit=2, offset=2)) == ["e2", "e1"]

    count = trigger.count_events
    assert count() == 4
    assert count(event_code=PAID) == 3
    assert count(**window) == 2
    assert (count(matched=True), count(triggered=True), count(triggered=False)) == (2, 1, 3)
    assert count(emitted_by_invocation_id="invocation-1", event_code=SHIPPED) == 1
    assert count(emitted_by_task_id=TASK_A) == 2
    assert sorted(trigger.list_event_codes()) == [PAID, SHIPPED]


@clause("TRIG-9")
def test_event_markers_page_a_window_oldest_first(trigger: Any) -> None:
    t0 = start()
    store_events(trigger, t0)
    markers = trigger.get_event_markers_in_timerange
    page = markers(t0, t0 + timedelta(minutes=10))
    assert [m.event_id for m in page.markers] == ["e1", "e2", "e3", "e4"]
    assert (page.total, page.truncated) == (4, False)
    e3 = page.markers[2]
    assert (e3.event_code, e3.timestamp, e3.matched, e3.triggered) == (
        SHIPPED,
        t0 + timedelta(minutes=3),
        True,
        True,
    )
    window = markers(t0 + timedelta(seconds=90), t0 + timedelta(seconds=210))
    assert [m.event_id for m in window.markers] == ["e2", "e3"]
    for state, expected in (
        ("matched", ["e1", "e3"]),
        ("unmatched", ["e2", "e4"]),
        ("triggered", ["e3"]),
        ("untriggered", ["e1", "e2", "e4"]),
    ):
        got = markers(t0, t0 + timedelta(minutes=10), state=state)
        assert [m.event_id for m in got.markers] == expected, state
    by_code = markers(t0, t0 + timedelta(minutes=10), event_code=PAID, state="unmatched")
    assert [m.event_id for m in by_code.markers] == ["e2", "e4"]
    middle = markers(t0, t0 + timedelta(minutes=10), limit=2, offset=1)
    assert [m.event_id for m in middle.markers] == ["e2", "e3"]
    assert (middle.total, middle.truncated) == (4, True)


@clause("TRIG-9")
def test_storing_an_event_again_replaces_it(trigger: Any) -> None:
    t0 = start()
    store_events(trigger, t0)
    trigger.store_event(event("e2", PAID, t0 + timedelta(minutes=2), matched_condition_ids=["c"]))
    got = trigger.get_event("e2")
    assert got is not None
    assert got.matched_condition_ids == ["c"]
    assert trigger.count_events() == 4
    assert ids(trigger.get_events(matched=True)) == ["e3", "e2", "e1"]


def store_runs(trigger: Any, t0: datetime) -> None:
    """r1 (task A, names e1), r2 (task B, names e1 and e3), r3 (task A, names none),
    executed a minute apart; e1 is paid, e3 shipped."""
    minute = timedelta(minutes=1)
    trigger.store_event(event("e1", PAID, t0))
    trigger.store_event(event("e3", SHIPPED, t0))
    trigger.store_trigger_run(run("r1", TASK_A, t0 + minute, "e1"))
    trigger.store_trigger_run(run("r2", TASK_B, t0 + 2 * minute, "e1", "e3"))
    trigger.store_trigger_run(run("r3", TASK_A, t0 + 3 * minute, source_invocation_ids=["i-1"]))


@clause("TRIG-10")
def test_trigger_runs_are_found_by_event_invocation_and_window(trigger: Any) -> None:
    t0 = start()
    store_runs(trigger, t0)
    assert trigger.get_trigger_run("r2") == run("r2", TASK_B, t0 + timedelta(minutes=2), "e1", "e3")
    assert trigger.get_trigger_run("never-stored") is None
    assert sorted(ids(trigger.get_trigger_runs_for_event("e1"))) == ["r1", "r2"]
    assert ids(trigger.get_trigger_runs_for_event("e3")) == ["r2"]
    assert trigger.get_trigger_runs_for_event("e2") == []
    assert ids(trigger.get_trigger_runs_for_invocation("invocation-of-r2")) == ["r2"]
    assert trigger.get_trigger_runs_for_invocation("invocation-of-nothing") == []

    def in_window(begin: timedelta, end: timedelta, **filters: Any) -> list[str]:
        return sorted(ids(trigger.get_trigger_runs_in_timerange(t0 + begin, t0 + end, **filters)))

    hour, seconds = timedelta(hours=1), timedelta(seconds=1)
    assert in_window(0 * hour, hour) == ["r1", "r2", "r3"]
    assert in_window(90 * seconds, 150 * seconds) == ["r2"]
    assert in_window(0 * hour, hour, task_id_key=TASK_A) == ["r1", "r3"]
    assert in_window(0 * hour, hour, event_code=SHIPPED) == ["r2"]
    assert in_window(0 * hour, hour, event_code=PAID) == ["r1", "r2"]
    limited = in_window(0 * hour, hour, limit=2)
    assert len(limited) == 2
    assert set(limited) <= {"r1", "r2", "r3"}


@clause("TRIG-10")
def test_storing_a_run_again_replaces_it(trigger: Any) -> None:
    t0 = start()
    store_runs(trigger, t0)
    moved = run("r1", TASK_A, t0 + timedelta(minutes=5), "e1")
    trigger.store_trigger_run(moved)
    assert trigger.get_trigger_run("r1") == moved
    later = trigger.get_trigger_runs_in_timerange(
        t0 + timedelta(minutes=4), t0 + timedelta(hours=1)
    )
    assert ids(later) == ["r1"]
    assert sorted(ids(trigger.get_trigger_runs_for_event("e1"))) == ["r1", "r2"]


@clause("TRIG-10")
def test_linked_invocations_are_listed_once_per_event_in_order(trigger: Any) -> None:
    t0 = start()
    for n in range(1, 4):
        trigger.store_event(event(f"e{n}", PAID, t0 + timedelta(minutes=n)))
    trigger.link_trigger_run_to_events(["e1", "e2"], "invocation-a", trigger_run_id="r1")
    trigger.link_trigger_run_to_events(["e1"], "invocation-b", trigger_run_id="r2")
    trigger.link_trigger_run_to_events(["e1"], "invocation-a", trigger_run_id="r1")
    assert trigger.get_invocations_triggered_by_event("e1") == ["invocation-a", "invocation-b"]
    assert trigger.get_invocations_triggered_by_event("e2") == ["invocation-a"]
    assert trigger.get_invocations_triggered_by_event("e3") == []
    assert ids(trigger.get_events(triggered=True)) == ["e2", "e1"]
    assert trigger.count_events(triggered=False) == 1
    got = trigger.get_event("e1")
    assert got is not None
    assert got.triggered_invocation_ids == ["invocation-a", "invocation-b"]

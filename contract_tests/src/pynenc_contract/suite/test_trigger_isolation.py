"""Two apps on one storage, alike in their trigger ids, never see or purge each other's
trigger data."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynenc import Pynenc
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatus
from pynenc.trigger.arguments import create_argument_filter
from pynenc.trigger.conditions import CronCondition, StatusCondition

from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory
from pynenc_contract.suite.test_trigger import (
    EVERY_MINUTE,
    NOON,
    TRIGGERED,
    WATCHED,
    condition_ids,
    definition,
    event_condition,
    trigger_ids,
    valid_event,
)
from pynenc_contract.suite.test_trigger_monitoring import PAID, TASK_A, event, ids, run, start
from pynenc_contract.suite.test_trigger_retention import EVER

PAID_CONDITION = event_condition(PAID)
CRON = CronCondition(EVERY_MINUTE)
STATUS = StatusCondition(WATCHED, [InvocationStatus.SUCCESS], create_argument_filter(None))
#: The ids both apps use for their own event, run and valid condition.
SHARED_EVENT, SHARED_RUN = "shared-event", "shared-run"


@dataclass
class Twin:
    """One app's trigger data: the same ids as its twin's, plus some of its own (``own``);
    its cron last ran ``cron_minute`` minutes after noon."""

    app: Pynenc
    own: str
    cron_minute: int

    @property
    def trigger(self) -> Any:
        return self.app.trigger

    @property
    def own_condition(self) -> Any:
        return event_condition(f"code.{self.own}")

    @property
    def own_definition(self) -> Any:
        task = TaskId("contract.trigger", f"task_{self.own}")
        return definition(self.trigger, task, [PAID_CONDITION])

    @property
    def cron_execution(self) -> Any:
        return NOON + timedelta(minutes=self.cron_minute)

    @property
    def invocation(self) -> str:
        return f"invocation-{self.own}"


def _twin(app: Pynenc, own: str, cron_minute: int) -> Twin:
    twin = Twin(app, own, cron_minute)
    trigger, t0 = twin.trigger, start()
    for condition in (PAID_CONDITION, CRON, STATUS, twin.own_condition):
        trigger.register_condition(condition)
    trigger.register_trigger(definition(trigger, TRIGGERED, [PAID_CONDITION, STATUS]))
    trigger.register_trigger(twin.own_definition)
    trigger.record_valid_conditions(
        [valid_event(PAID_CONDITION, SHARED_EVENT), valid_event(PAID_CONDITION, f"event-{own}")]
    )
    assert trigger.store_last_cron_execution(CRON.condition_id, twin.cron_execution, None), (
        "the other app's cron execution blocked this one"
    )
    assert trigger.claim_trigger_run(SHARED_RUN), "the other app's claim blocked this one"
    trigger.store_event(event(SHARED_EVENT, PAID, t0, payload={"app": own}))
    trigger.store_event(event(f"event-{own}", f"code.{own}", t0 + timedelta(minutes=1)))
    trigger.store_trigger_run(
        run(
            SHARED_RUN,
            TASK_A,
            t0 + timedelta(minutes=2),
            SHARED_EVENT,
            triggered_invocation_id=twin.invocation,
        )
    )
    trigger.link_trigger_run_to_events([SHARED_EVENT], twin.invocation, trigger_run_id=SHARED_RUN)
    return twin


def _assert_sees_only_its_own(twin: Twin, other: Twin) -> None:
    trigger, own = twin.trigger, twin.own
    assert trigger.get_condition(other.own_condition.condition_id) is None, "condition"
    assert condition_ids(trigger._get_all_conditions()) == condition_ids(
        [PAID_CONDITION, CRON, STATUS, twin.own_condition]
    ), "all conditions"
    sourced = trigger.get_conditions_sourced_from_task(WATCHED)
    assert [c.condition_id for c in sourced] == [STATUS.condition_id], "source-task conditions"
    shared_definition = definition(trigger, TRIGGERED, [PAID_CONDITION, STATUS])
    assert trigger_ids(trigger.get_triggers_for_condition(PAID_CONDITION.condition_id)) == sorted(
        [shared_definition.trigger_id, twin.own_definition.trigger_id]
    ), "definitions for a condition"
    assert trigger._get_trigger(other.own_definition.trigger_id) is None, "definition"
    assert sorted(trigger.get_valid_conditions()) == sorted(
        valid_event(PAID_CONDITION, event_id).valid_condition_id
        for event_id in (SHARED_EVENT, f"event-{own}")
    ), "valid conditions"
    assert trigger.get_last_cron_execution(CRON.condition_id) == twin.cron_execution, "cron"

    assert ids(trigger.get_events()) == [f"event-{own}", SHARED_EVENT], "events"
    shared = trigger.get_event(SHARED_EVENT)
    assert shared is not None, "event"
    assert shared.payload == {"app": own}, "event"
    assert trigger.get_event(f"event-{other.own}") is None, "event"
    assert trigger.count_events() == 2, "count"
    assert sorted(trigger.list_event_codes()) == sorted([PAID, f"code.{own}"]), "codes"
    page = trigger.get_event_markers_in_timerange(*EVER)
    assert ([m.event_id for m in page.markers], page.total) == (
        [SHARED_EVENT, f"event-{own}"],
        2,
    ), "markers"

    runs = trigger.get_trigger_runs_in_timerange(*EVER)
    assert [r.triggered_invocation_id for r in runs] == [twin.invocation], "runs in a window"
    got = trigger.get_trigger_run(SHARED_RUN)
    assert got is not None, "run"
    assert got.triggered_invocation_id == twin.invocation, "run"
    assert len(trigger.get_trigger_runs_for_event(SHARED_EVENT)) == 1, "runs for an event"
    assert trigger.get_trigger_runs_for_invocation(other.invocation) == [], "runs"
    assert trigger.get_invocations_triggered_by_event(SHARED_EVENT) == [twin.invocation]


@clause("TRIG-13")
def test_every_look_up_sees_only_its_own_app(app_factory: AppFactory) -> None:
    first, second = _twin(app_factory(), "first", 1), _twin(app_factory(), "second", 2)
    _assert_sees_only_its_own(first, second)
    _assert_sees_only_its_own(second, first)


@clause("TRIG-13")
def test_purge_removes_only_this_apps_trigger_data(app_factory: AppFactory) -> None:
    first, second = _twin(app_factory(), "first", 1), _twin(app_factory(), "second", 2)
    trigger = first.trigger
    trigger.purge()
    assert trigger._get_all_conditions() == []
    assert trigger.get_triggers_for_condition(PAID_CONDITION.condition_id) == []
    assert trigger.get_valid_conditions() == {}
    assert trigger.get_last_cron_execution(CRON.condition_id) is None
    assert (trigger.get_events(), trigger.list_event_codes()) == ([], [])
    assert trigger.get_trigger_runs_in_timerange(*EVER) == []
    assert trigger.get_invocations_triggered_by_event(SHARED_EVENT) == []
    assert trigger.claim_trigger_run(SHARED_RUN), "its claims stayed"
    _assert_sees_only_its_own(second, first)

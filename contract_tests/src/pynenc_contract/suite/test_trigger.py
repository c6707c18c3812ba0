"""The trigger's interface, and what it stores: conditions, definitions, valid
conditions and the cron's last executions."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatus
from pynenc.models.trigger_definition_dto import TriggerDefinitionDTO
from pynenc.trigger.arguments import create_argument_filter
from pynenc.trigger.arguments.argument_providers import StaticArgumentProvider
from pynenc.trigger.conditions import (
    CompositeLogic,
    CronCondition,
    EventCondition,
    EventContext,
    ExceptionCondition,
    ExceptionContext,
    StatusCondition,
    StatusContext,
    TriggerCondition,
    ValidCondition,
)
from pynenc.trigger.trigger_definitions import TriggerDefinition

from pynenc_contract.backend import Component, ContractBackend
from pynenc_contract.clauses import clause, signature_drift

EVERY_MINUTE = "* * * * *"
NOON = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
WATCHED = TaskId("contract.trigger", "watched")
TRIGGERED = TaskId("contract.trigger", "triggered")


def event_condition(event_code: str) -> EventCondition:
    """A condition met by every event of ``event_code``."""
    return EventCondition(event_code, create_argument_filter(None))


def valid_event(condition: EventCondition, event_id: str) -> ValidCondition:
    """``condition`` met by the event ``event_id``."""
    return ValidCondition(
        condition, EventContext(event_id=event_id, event_code=condition.event_code)
    )


def definition(
    trigger: Any, task_id: TaskId, conditions: Iterable[TriggerCondition[Any]], **arguments: Any
) -> TriggerDefinitionDTO:
    """The definition of ``task_id`` on ``conditions`` (OR), giving it ``arguments``."""
    provider = StaticArgumentProvider(arguments) if arguments else None
    ids = [condition.condition_id for condition in conditions]
    return TriggerDefinition(task_id, ids, CompositeLogic.OR, provider).to_dto(trigger.app)


def condition_ids(conditions: Iterable[TriggerCondition[Any]]) -> set[str]:
    return {condition.condition_id for condition in conditions}


def trigger_ids(definitions: Iterable[TriggerDefinitionDTO]) -> list[str]:
    return sorted(item.trigger_id for item in definitions)


@clause("TRIG-1")
def test_the_class_implements_the_base_interface(contract_backend: ContractBackend) -> None:
    cls = contract_backend.component_class(Component.TRIGGER)
    assert cls is not None
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    assert not missing, f"{cls.__name__} lacks {missing}"
    drift = signature_drift(cls)
    assert not drift, "; ".join(drift)


@clause("TRIG-1")
def test_the_trigger_is_instantiated(contract_backend: ContractBackend, trigger: Any) -> None:
    assert type(trigger) is contract_backend.component_class(Component.TRIGGER)


@clause("TRIG-2")
def test_conditions_are_found_by_id_and_by_the_task_they_watch(trigger: Any) -> None:
    no_filter = create_argument_filter(None)
    status = StatusCondition(WATCHED, [InvocationStatus.SUCCESS], no_filter)
    failure = ExceptionCondition(WATCHED, no_filter, ["ValueError"])
    event = event_condition("order.paid")
    for condition in (status, failure, event):
        trigger._register_condition(condition)
    for condition in (status, failure):
        trigger._register_source_task_condition(WATCHED, condition.condition_id)

    found = trigger.get_condition(event.condition_id)
    assert found is not None
    assert found.to_json(trigger.app) == event.to_json(trigger.app)
    assert trigger.get_condition("event#never-registered#") is None
    assert condition_ids(trigger._get_all_conditions()) == condition_ids([status, failure, event])
    sourced = trigger.get_conditions_sourced_from_task
    assert condition_ids(sourced(WATCHED)) == condition_ids([status, failure])
    assert condition_ids(sourced(WATCHED, StatusContext)) == {status.condition_id}
    assert condition_ids(sourced(WATCHED, ExceptionContext)) == {failure.condition_id}
    assert sourced(TRIGGERED) == []


@clause("TRIG-3")
def test_definitions_round_trip_and_are_cleaned_per_task(trigger: Any) -> None:
    paid, shipped = event_condition("order.paid"), event_condition("order.shipped")
    for condition in (paid, shipped):
        trigger._register_condition(condition)
    both = definition(trigger, TRIGGERED, [paid, shipped], x=1)
    only_paid = definition(trigger, WATCHED, [paid])
    for item in (both, only_paid):
        trigger.register_trigger(item)

    stored = trigger._get_trigger(both.trigger_id)
    assert stored is not None
    assert (stored.task_id, sorted(stored.condition_ids), stored.logic) == (
        both.task_id,
        sorted(both.condition_ids),
        both.logic,
    )
    assert stored.argument_provider_json == both.argument_provider_json
    assert trigger._get_trigger("never-registered") is None
    assert trigger_ids(trigger.get_triggers_for_condition(paid.condition_id)) == trigger_ids(
        [both, only_paid]
    )
    assert trigger_ids(trigger.get_triggers_for_condition(shipped.condition_id)) == [
        both.trigger_id
    ]

    trigger.clean_task_trigger_definitions(TRIGGERED)
    assert trigger._get_trigger(both.trigger_id) is None
    assert trigger_ids(trigger.get_triggers_for_condition(paid.condition_id)) == [
        only_paid.trigger_id
    ]
    assert trigger.get_triggers_for_condition(shipped.condition_id) == []
    assert trigger._get_trigger(only_paid.trigger_id) is not None
    assert trigger.get_condition(shipped.condition_id) is not None, "conditions stay"


@clause("TRIG-4")
def test_valid_conditions_wait_until_cleared(trigger: Any) -> None:
    condition = event_condition("order.paid")
    trigger._register_condition(condition)
    first, second, third = (valid_event(condition, f"event-{n}") for n in range(3))
    trigger.record_valid_condition(first)
    trigger.record_valid_conditions([second, third])
    trigger.record_valid_conditions([first])  # recorded again: still once

    waiting = trigger.get_valid_conditions()
    assert sorted(waiting) == sorted(v.valid_condition_id for v in (first, second, third))
    for valid in (first, second, third):
        got = waiting[valid.valid_condition_id]
        assert got.condition.condition_id == condition.condition_id
        assert got.context == valid.context

    trigger.clear_valid_conditions([first, third])
    assert list(trigger.get_valid_conditions()) == [second.valid_condition_id]
    trigger.clear_valid_conditions([second])
    assert trigger.get_valid_conditions() == {}


@clause("TRIG-5")
def test_a_cron_execution_is_stored_only_over_the_expected_one(trigger: Any) -> None:
    condition = CronCondition(EVERY_MINUTE)
    trigger.register_condition(condition)
    cid = condition.condition_id
    precise = NOON + timedelta(microseconds=123_457)
    assert trigger.get_last_cron_execution(cid) is None

    assert trigger.store_last_cron_execution(cid, precise, expected_last_execution=None)
    assert trigger.get_last_cron_execution(cid) == precise
    later = precise + timedelta(minutes=1)
    assert not trigger.store_last_cron_execution(cid, later, expected_last_execution=None), (
        "stored over an execution when none was expected: every process that found none "
        "fires the cron's first period"
    )
    assert not trigger.store_last_cron_execution(cid, later, expected_last_execution=NOON)
    assert trigger.get_last_cron_execution(cid) == precise, "a refused store changed it"
    assert trigger.store_last_cron_execution(cid, later, expected_last_execution=precise)
    assert trigger.get_last_cron_execution(cid) == later


@clause("TRIG-6")
def test_registering_a_condition_again_keeps_its_last_cron_execution(trigger: Any) -> None:
    condition = CronCondition(EVERY_MINUTE)
    trigger.register_condition(condition)
    assert trigger.store_last_cron_execution(condition.condition_id, NOON, None)
    trigger._register_condition(CronCondition(EVERY_MINUTE))  # as a process that starts
    assert trigger.get_last_cron_execution(condition.condition_id) == NOON

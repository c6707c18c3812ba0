"""Deliberately broken copies of pynenc-sqlite's trigger, one per fault.

Each is our stack in wal with one trigger fault; the contract must fail exactly the
clauses in :data:`CASES`.
"""

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynenc.identifiers.task_id import TaskId
from pynenc.trigger.conditions import ConditionContext, TriggerCondition, ValidCondition

from adapters.broken import broken_component
from pynenc_contract import Component
from pynenc_sqlite import PynencSQLiteTrigger
from pynenc_sqlite.rows import epoch
from pynenc_sqlite.schema import TriggerTables as G

#: Pause between reading a claim and writing it: the other racers read it too.
CLAIM_DELAY_SECONDS = 0.005
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TriggerRenamesThreshold(PynencSQLiteTrigger):
    """Names _age_purge_events' parameter ``before`` instead of ``threshold``."""

    def _age_purge_events(self, before: datetime) -> list[str]:
        return super()._age_purge_events(before)


class TriggerIgnoresContextType(PynencSQLiteTrigger):
    """Returns every condition watching the task, whatever context type was asked for."""

    def get_conditions_sourced_from_task(
        self, task_id: TaskId, context_type: type[ConditionContext] | None = None
    ) -> list[TriggerCondition[Any]]:
        return super().get_conditions_sourced_from_task(task_id)


class TriggerCleansEveryTask(PynencSQLiteTrigger):
    """Removes the definitions of every task of the app when cleaning one task's."""

    def clean_task_trigger_definitions(self, task_id: TaskId) -> None:
        for table in (G.DEFINITION_CONDITIONS, G.DEFINITIONS):
            self.database.write_one(f"DELETE FROM {table} WHERE app_key = ?", (self.rows.app_key,))


class TriggerClearsEveryValidCondition(PynencSQLiteTrigger):
    """Clears all the app's valid conditions, not only those processed."""

    def clear_valid_conditions(self, conditions: Iterable[ValidCondition]) -> None:
        self.database.write_one(
            f"DELETE FROM {G.VALID_CONDITIONS} WHERE app_key = ?", (self.rows.app_key,)
        )


class TriggerStoresCronOverAny(PynencSQLiteTrigger):
    """Stores a cron execution over whatever is stored when none is expected, as pynenc's
    memory and SQLite triggers do."""

    def store_last_cron_execution(
        self,
        condition_id: str,
        execution_time: datetime,
        expected_last_execution: datetime | None = None,
    ) -> bool:
        if expected_last_execution is not None:
            return super().store_last_cron_execution(
                condition_id, execution_time, expected_last_execution
            )
        micros = (execution_time - _EPOCH) // timedelta(microseconds=1)
        return bool(
            self.database.write_one(
                f"UPDATE {G.CONDITIONS} SET last_cron_execution_us = ? "
                "WHERE app_key = ? AND condition_id = ? RETURNING 1",
                (micros, self.rows.app_key, condition_id),
            )
        )


class TriggerReplacesConditionRow(PynencSQLiteTrigger):
    """Stores a condition by replacing its whole row, its last cron execution with it
    (pynenc-12)."""

    def _register_condition(self, condition: TriggerCondition[Any]) -> None:
        self.database.write_one(
            f"INSERT OR REPLACE INTO {G.CONDITIONS} (app_key, condition_id, condition_json) "
            "VALUES (?, ?, ?)",
            (self.rows.app_key, condition.condition_id, condition.to_json(self.app)),
        )


class TriggerClaimsInSteps(PynencSQLiteTrigger):
    """Reads a run's claim, pauses, then writes it in another statement, as pynenc's
    SQLite trigger does."""

    def claim_trigger_run(self, trigger_run_id: str, expiration_seconds: int = 60) -> bool:
        now = epoch(datetime.now(UTC))
        held = self.rows.fetch(
            f"SELECT 1 FROM {G.RUN_CLAIMS} WHERE app_key = ? AND trigger_run_id = ? "
            "AND expires_at > ?",
            (self.rows.app_key, trigger_run_id, now),
        )
        if held:
            return False
        time.sleep(CLAIM_DELAY_SECONDS)
        self.database.write_one(
            f"INSERT OR REPLACE INTO {G.RUN_CLAIMS} (app_key, trigger_run_id, expires_at) "
            "VALUES (?, ?, ?)",
            (self.rows.app_key, trigger_run_id, now + expiration_seconds),
        )
        return True


class TriggerRepeatsEventCodes(PynencSQLiteTrigger):
    """Lists an event code once per event that has it."""

    def list_event_codes(self) -> list[str]:
        return [
            code
            for (code,) in self.rows.fetch(
                f"SELECT event_code FROM {G.EVENTS} WHERE app_key = ? ORDER BY event_code",
                (self.rows.app_key,),
            )
        ]


class TriggerRunsOfEveryTask(PynencSQLiteTrigger):
    """Ignores the task filter of a time-range look-up of runs."""

    def get_trigger_runs_in_timerange(
        self,
        start_time: datetime,
        end_time: datetime,
        *,
        event_code: str | None = None,
        task_id_key: str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        return super().get_trigger_runs_in_timerange(
            start_time, end_time, event_code=event_code, limit=limit
        )


class TriggerKeepsRunsOfDeletedEvents(PynencSQLiteTrigger):
    """Keeps the runs that name an event retention deleted."""

    def _cascade_delete_runs_for_events(self, event_ids: list[str]) -> int:
        return 0


class TriggerAgesEveryAppsEvents(PynencSQLiteTrigger):
    """Deletes old events of every app in the file, by this app's retention."""

    def _age_purge_events(self, threshold: datetime) -> list[str]:
        deleted = self.database.write_one(
            f"DELETE FROM {G.EVENTS} WHERE ts < ? RETURNING event_id", (epoch(threshold),)
        )
        return [event_id for (event_id,) in deleted]


class TriggerLinksOfEveryApp(PynencSQLiteTrigger):
    """Lists the invocations linked to an event id in every app."""

    def get_invocations_triggered_by_event(self, event_id: str) -> list[str]:
        return [
            invocation_id
            for (invocation_id,) in self.rows.fetch(
                f"SELECT invocation_id FROM {G.EVENT_INVOCATIONS} WHERE event_id = ? ORDER BY seq",
                (event_id,),
            )
        ]


class TriggerPurgeKeepsClaims(PynencSQLiteTrigger):
    """Purges everything of the app but its claims of trigger runs."""

    def _purge(self) -> None:
        self.rows.delete_all([table for table in G.APP_SCOPED if table != G.RUN_CLAIMS])


RENAMES_THRESHOLD = broken_component(Component.TRIGGER, TriggerRenamesThreshold)
IGNORES_CONTEXT_TYPE = broken_component(Component.TRIGGER, TriggerIgnoresContextType)
CLEANS_EVERY_TASK = broken_component(Component.TRIGGER, TriggerCleansEveryTask)
CLEARS_EVERY_VALID = broken_component(Component.TRIGGER, TriggerClearsEveryValidCondition)
CRON_OVER_ANY = broken_component(Component.TRIGGER, TriggerStoresCronOverAny)
REPLACES_CONDITION = broken_component(Component.TRIGGER, TriggerReplacesConditionRow)
CLAIMS_IN_STEPS = broken_component(Component.TRIGGER, TriggerClaimsInSteps)
REPEATS_CODES = broken_component(Component.TRIGGER, TriggerRepeatsEventCodes)
RUNS_OF_EVERY_TASK = broken_component(Component.TRIGGER, TriggerRunsOfEveryTask)
KEEPS_RUNS = broken_component(Component.TRIGGER, TriggerKeepsRunsOfDeletedEvents)
AGES_EVERY_APP = broken_component(Component.TRIGGER, TriggerAgesEveryAppsEvents)
LINKS_OF_EVERY_APP = broken_component(Component.TRIGGER, TriggerLinksOfEveryApp)
PURGE_KEEPS_CLAIMS = broken_component(Component.TRIGGER, TriggerPurgeKeepsClaims)

_TRIGGER, _CLAIMS = "test_trigger", "test_trigger_claims"

#: Each broken copy -> (the suite modules holding its clauses, the clauses that must fail).
CASES: dict[str, tuple[list[str], set[str]]] = {
    "RENAMES_THRESHOLD": ([_TRIGGER], {"TRIG-1"}),
    "IGNORES_CONTEXT_TYPE": ([_TRIGGER], {"TRIG-2"}),
    "CLEANS_EVERY_TASK": ([_TRIGGER], {"TRIG-3"}),
    "CLEARS_EVERY_VALID": ([_TRIGGER], {"TRIG-4"}),
    "CRON_OVER_ANY": ([_TRIGGER, _CLAIMS], {"TRIG-5", "TRIG-7", "TRIG-8"}),
    "REPLACES_CONDITION": ([_TRIGGER, _CLAIMS], {"TRIG-6", "TRIG-8"}),
    "CLAIMS_IN_STEPS": ([_CLAIMS], {"TRIG-7", "TRIG-8"}),
    "REPEATS_CODES": (["test_trigger_monitoring"], {"TRIG-9"}),
    "RUNS_OF_EVERY_TASK": (["test_trigger_monitoring"], {"TRIG-10"}),
    "KEEPS_RUNS": (["test_trigger_retention"], {"TRIG-11"}),
    "AGES_EVERY_APP": (["test_trigger_retention"], {"TRIG-12"}),
    "LINKS_OF_EVERY_APP": (["test_trigger_isolation"], {"TRIG-13"}),
    "PURGE_KEEPS_CLAIMS": (["test_trigger_isolation"], {"TRIG-13"}),
}

"""A pynenc trigger on SQLite for several processes on one host.

Selected in pynenc's config as ``PynencSQLiteTrigger`` (pynenc has its own
``SQLiteTrigger``). It keeps the conditions and trigger definitions, the conditions
found valid and waiting for the trigger loop, the cron conditions' last executions and
the claims of trigger runs in ``trigger_*`` tables beside the other components', on
the same database layer. Every claim is one conditional write, so two processes
never both win it.
"""

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pynenc.conf.validation_trigger import validate_trigger_config
from pynenc.identifiers.task_id import TaskId
from pynenc.models.trigger_definition_dto import TriggerDefinitionDTO
from pynenc.trigger.base_trigger import BaseTrigger
from pynenc.trigger.conditions import (
    CompositeLogic,
    ConditionContext,
    TriggerCondition,
    ValidCondition,
)

from pynenc_sqlite.conf.config_database import load_config
from pynenc_sqlite.conf.config_trigger import ConfigTriggerPynencSQLite
from pynenc_sqlite.rows import OnDatabase, epoch, open_rows, placeholders
from pynenc_sqlite.schema import TriggerTables
from pynenc_sqlite.trigger.monitoring import MonitoringRecords

if TYPE_CHECKING:
    from pynenc.app import Pynenc

__all__ = ["PynencSQLiteTrigger"]

G = TriggerTables
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
AnyCondition = TriggerCondition[Any]


class PynencSQLiteTrigger(OnDatabase, MonitoringRecords, BaseTrigger):
    """Trigger state in one SQLite file shared by the processes of a host.

    Several apps may share the file: every row carries the app's key.
    """

    def __init__(self, app: "Pynenc") -> None:
        super().__init__(app)
        self.rows = open_rows(app, self.conf)

    @cached_property
    def conf(self) -> ConfigTriggerPynencSQLite:
        config = load_config(
            ConfigTriggerPynencSQLite, self.app.config_values, self.app.config_filepath
        )
        validate_trigger_config(config)
        return config

    def _purge(self) -> None:
        """Remove every row of this app; other apps in the same file are untouched."""
        self.rows.delete_all(G.APP_SCOPED)

    # -- conditions and definitions ------------------------------------------
    def _register_condition(self, condition: AnyCondition) -> None:
        """Store ``condition``; a cron condition stored before keeps its last execution."""
        self.database.write_one(
            f"INSERT INTO {G.CONDITIONS} (app_key, condition_id, condition_json) "
            "VALUES (?, ?, ?) ON CONFLICT (app_key, condition_id) "
            "DO UPDATE SET condition_json = excluded.condition_json",
            (self.rows.app_key, condition.condition_id, condition.to_json(self.app)),
        )

    def get_condition(self, condition_id: str) -> AnyCondition | None:
        found = self.rows.fetch(
            f"SELECT condition_json FROM {G.CONDITIONS} WHERE app_key = ? AND condition_id = ?",
            (self.rows.app_key, condition_id),
        )
        return TriggerCondition.from_json(found[0][0], self.app) if found else None

    def get_conditions_batch(self, condition_ids: Sequence[str]) -> dict[str, AnyCondition | None]:
        """The condition of each id (None for an unknown one), in one query."""
        conditions: dict[str, AnyCondition | None] = dict.fromkeys(condition_ids)
        if condition_ids:
            for condition_id, condition_json in self.rows.fetch(
                f"SELECT condition_id, condition_json FROM {G.CONDITIONS} "
                f"WHERE app_key = ? AND condition_id IN ({placeholders(condition_ids)})",
                (self.rows.app_key, *condition_ids),
            ):
                conditions[condition_id] = TriggerCondition.from_json(condition_json, self.app)
        return conditions

    def _get_all_conditions(self) -> list[AnyCondition]:
        return [
            TriggerCondition.from_json(condition_json, self.app)
            for (condition_json,) in self.rows.fetch(
                f"SELECT condition_json FROM {G.CONDITIONS} WHERE app_key = ? "
                "ORDER BY condition_id",
                (self.rows.app_key,),
            )
        ]

    def _register_source_task_condition(self, task_id: TaskId, condition_id: str) -> None:
        self.database.write_one(
            f"INSERT OR IGNORE INTO {G.SOURCE_TASK_CONDITIONS} (app_key, task_id, condition_id) "
            "VALUES (?, ?, ?)",
            (self.rows.app_key, task_id.key, condition_id),
        )

    def get_conditions_sourced_from_task(
        self, task_id: TaskId, context_type: type[ConditionContext] | None = None
    ) -> list[AnyCondition]:
        """The conditions that watch ``task_id`` (of ``context_type`` when given), in one
        query: every status change of every task asks this."""
        conditions = [
            TriggerCondition.from_json(condition_json, self.app)
            for (condition_json,) in self.rows.fetch(
                f"""SELECT c.condition_json FROM {G.SOURCE_TASK_CONDITIONS} s
                    JOIN {G.CONDITIONS} c
                        ON c.app_key = s.app_key AND c.condition_id = s.condition_id
                    WHERE s.app_key = ? AND s.task_id = ? ORDER BY s.condition_id""",
                (self.rows.app_key, task_id.key),
            )
        ]
        if context_type is None:
            return conditions
        return [condition for condition in conditions if condition.context_type == context_type]

    def register_trigger(self, trigger: TriggerDefinitionDTO) -> None:
        """Store ``trigger`` with its conditions in order, replacing an earlier version."""
        key = self.rows.app_key

        def store(tx: sqlite3.Connection) -> None:
            tx.execute(
                f"INSERT OR REPLACE INTO {G.DEFINITIONS} "
                "(app_key, trigger_id, task_id, logic, argument_provider_json) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    key,
                    trigger.trigger_id,
                    trigger.task_id.key,
                    trigger.logic.value,
                    trigger.argument_provider_json,
                ),
            )
            tx.execute(
                f"DELETE FROM {G.DEFINITION_CONDITIONS} WHERE app_key = ? AND trigger_id = ?",
                (key, trigger.trigger_id),
            )
            tx.executemany(
                f"INSERT INTO {G.DEFINITION_CONDITIONS} "
                "(app_key, trigger_id, position, condition_id) VALUES (?, ?, ?, ?)",
                [
                    (key, trigger.trigger_id, position, condition_id)
                    for position, condition_id in enumerate(trigger.condition_ids)
                ],
            )

        self.database.transact(store)

    def _get_trigger(self, trigger_id: str) -> TriggerDefinitionDTO | None:
        found = self._definitions("d.trigger_id = ?", trigger_id)
        return found[0] if found else None

    def get_triggers_for_condition(self, condition_id: str) -> list[TriggerDefinitionDTO]:
        return self._definitions(
            f"d.trigger_id IN (SELECT trigger_id FROM {G.DEFINITION_CONDITIONS} "
            "WHERE app_key = d.app_key AND condition_id = ?)",
            condition_id,
        )

    def _definitions(self, where: str, value: str) -> list[TriggerDefinitionDTO]:
        """The trigger definitions matching ``where`` (one parameter), each with its
        conditions in the order they were given."""
        found = self.rows.fetch(
            f"""SELECT d.trigger_id, d.task_id, d.logic, d.argument_provider_json,
                    dc.condition_id
                FROM {G.DEFINITIONS} d LEFT JOIN {G.DEFINITION_CONDITIONS} dc
                    ON dc.app_key = d.app_key AND dc.trigger_id = d.trigger_id
                WHERE d.app_key = ? AND {where}
                ORDER BY d.trigger_id, dc.position""",
            (self.rows.app_key, value),
        )
        condition_ids: dict[str, list[str]] = defaultdict(list)
        definitions: dict[str, tuple[str, str, str | None]] = {}
        for trigger_id, task_id, logic, provider, condition_id in found:
            definitions[trigger_id] = (task_id, logic, provider)
            if condition_id is not None:
                condition_ids[trigger_id].append(condition_id)
        return [
            TriggerDefinitionDTO(
                trigger_id=trigger_id,
                task_id=TaskId.from_key(task_id),
                condition_ids=condition_ids[trigger_id],
                logic=CompositeLogic(logic),
                argument_provider_json=provider,
            )
            for trigger_id, (task_id, logic, provider) in definitions.items()
        ]

    def clean_task_trigger_definitions(self, task_id: TaskId) -> None:
        """Remove the trigger definitions of ``task_id`` (its conditions stay)."""
        key = self.rows.app_key

        def delete(tx: sqlite3.Connection) -> None:
            tx.execute(
                f"""DELETE FROM {G.DEFINITION_CONDITIONS} WHERE app_key = ? AND trigger_id IN
                    (SELECT trigger_id FROM {G.DEFINITIONS} WHERE app_key = ? AND task_id = ?)""",
                (key, key, task_id.key),
            )
            tx.execute(
                f"DELETE FROM {G.DEFINITIONS} WHERE app_key = ? AND task_id = ?",
                (key, task_id.key),
            )

        self.database.transact(delete)

    # -- conditions found valid -----------------------------------------------
    def record_valid_condition(self, valid_condition: ValidCondition) -> None:
        self.record_valid_conditions([valid_condition])

    def record_valid_conditions(self, valid_conditions: list[ValidCondition]) -> None:
        """Store the valid conditions in one transaction (one recorded twice is kept once)."""
        if not valid_conditions:
            return
        key = self.rows.app_key
        # Serializing may store argument values in the client data store: before the lock.
        rows = [
            (key, valid.valid_condition_id, valid.to_json(self.app)) for valid in valid_conditions
        ]
        self.database.transact(
            lambda tx: tx.executemany(
                f"INSERT OR REPLACE INTO {G.VALID_CONDITIONS} "
                "(app_key, valid_condition_id, valid_condition_json) VALUES (?, ?, ?)",
                rows,
            )
        )

    def get_valid_conditions(self) -> dict[str, ValidCondition]:
        return {
            valid_condition_id: ValidCondition.from_json(valid_json, self.app)
            for valid_condition_id, valid_json in self.rows.fetch(
                f"SELECT valid_condition_id, valid_condition_json FROM {G.VALID_CONDITIONS} "
                "WHERE app_key = ? ORDER BY valid_condition_id",
                (self.rows.app_key,),
            )
        }

    def clear_valid_conditions(self, conditions: Iterable[ValidCondition]) -> None:
        key = self.rows.app_key
        rows = [(key, condition.valid_condition_id) for condition in conditions]
        self.database.transact(
            lambda tx: tx.executemany(
                f"DELETE FROM {G.VALID_CONDITIONS} WHERE app_key = ? AND valid_condition_id = ?",
                rows,
            )
        )

    # -- cron executions and trigger-run claims --------------------------------
    def get_last_cron_execution(self, condition_id: str) -> datetime | None:
        found = self.rows.fetch(
            f"SELECT last_cron_execution_us FROM {G.CONDITIONS} "
            "WHERE app_key = ? AND condition_id = ?",
            (self.rows.app_key, condition_id),
        )
        if not found or found[0][0] is None:
            return None
        return _EPOCH + int(found[0][0]) * _MICROSECOND

    def store_last_cron_execution(
        self,
        condition_id: str,
        execution_time: datetime,
        expected_last_execution: datetime | None = None,
    ) -> bool:
        """Store ``execution_time`` if the stored last execution is still
        ``expected_last_execution`` (None: none stored yet), in one write.

        :return: False when another process stored one first, or the condition is not
            registered.
        """
        expected = None if expected_last_execution is None else _micros(expected_last_execution)
        return bool(
            self.database.write_one(
                f"UPDATE {G.CONDITIONS} SET last_cron_execution_us = ? "
                "WHERE app_key = ? AND condition_id = ? AND last_cron_execution_us IS ? "
                "RETURNING 1",
                (_micros(execution_time), self.rows.app_key, condition_id, expected),
            )
        )

    def claim_trigger_run(self, trigger_run_id: str, expiration_seconds: int = 60) -> bool:
        """Claim ``trigger_run_id`` for ``expiration_seconds`` unless an unexpired claim
        holds it, in one write."""
        now = epoch(datetime.now(UTC))
        return bool(
            self.database.write_one(
                f"INSERT INTO {G.RUN_CLAIMS} (app_key, trigger_run_id, expires_at) "
                "VALUES (?, ?, ?) ON CONFLICT (app_key, trigger_run_id) "
                "DO UPDATE SET expires_at = excluded.expires_at WHERE expires_at <= ? "
                "RETURNING 1",
                (self.rows.app_key, trigger_run_id, now + expiration_seconds, now),
            )
        )


def _micros(moment: datetime) -> int:
    """Whole microseconds since the epoch; a time without a time zone is taken as UTC,
    as pynenc's scheduler means it."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND

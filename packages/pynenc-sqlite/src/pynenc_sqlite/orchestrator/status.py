"""Status changes: pynenc's transition rules, applied atomically, and running concurrency."""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynenc.conf.config_task import ConcurrencyControlType
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    status_record_transition,
)

from pynenc_sqlite.database import NOW_SQL
from pynenc_sqlite.rows import AppRows, placeholders, status_of, utc
from pynenc_sqlite.schema import Tables

if TYPE_CHECKING:
    from pynenc.identifiers.invocation_id import InvocationId
    from pynenc.task import Task

_STATUS_QUERY = f"SELECT status FROM {Tables.INVOCATIONS} WHERE app_key = ? AND invocation_id = ?"
_RECORD_QUERY = (
    f"SELECT status, owner_id, status_time, task_id FROM {Tables.INVOCATIONS} "
    "WHERE app_key = ? AND invocation_id = ?"
)
#: A status write, stamped with the time at which it holds the write lock; a final
#: status also marks the invocation for retention (``auto_purge_time``).
_SET_STATUS = (
    f"UPDATE {Tables.INVOCATIONS} SET status = ?, owner_id = ?, status_time = {NOW_SQL}, "
    f"auto_purge_time = CASE WHEN ? THEN {NOW_SQL} ELSE auto_purge_time END "
    "WHERE app_key = ? AND invocation_id = ? RETURNING status_time"
)
#: The same, applied only while the status and owner read before are unchanged.
_SET_STATUS_IF_UNCHANGED = _SET_STATUS.replace(
    " RETURNING", " AND status = ? AND owner_id IS ? RETURNING"
)


def _stamped(record: InvocationStatusRecord, returned: list[Any]) -> InvocationStatusRecord:
    """``record`` with the time its write stored (``returned`` by :data:`_SET_STATUS`)."""
    return InvocationStatusRecord(record.status, record.runner_id, utc(returned[0][0]))


@dataclass(frozen=True)
class StatusStore:
    """The status, owner and time of the last change of one app's invocations."""

    rows: AppRows
    #: The task of a stored task id (its running-concurrency settings).
    task_of: Callable[[str], "Task[Any, Any]"]

    def transition(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_id: str | None,
        *,
        enforce_running: bool,
        also: Callable[[sqlite3.Connection, InvocationStatusRecord], None] | None = None,
    ) -> tuple[InvocationStatusRecord, bool]:
        """The new record, and whether running concurrency rerouted the invocation.

        pynenc's rules depend only on the stored status and owner. The fast path reads
        them, validates, and writes with one UPDATE that applies only while both are
        unchanged (a single statement is its own write transaction). When another
        process changed them in between, or running concurrency must be checked, or
        ``also`` must write with the new record in the same transaction (its history
        entry), the read, the check and the writes run in one ``BEGIN IMMEDIATE``
        transaction.

        :raises KeyError: the invocation is not registered in this app.
        :raises InvocationStatusTransitionError: the status rules forbid it.
        :raises InvocationStatusOwnershipError: the ownership rules forbid it.
        """
        database = self.rows.database
        if also is None:
            with database.translate_errors():
                current, task_id = self._read(database.connection(), invocation_id)
            checks_running = (
                enforce_running
                and current.status == InvocationStatus.PENDING
                and self.task_of(task_id).conf.running_concurrency
                != ConcurrencyControlType.DISABLED
            )
            if not checks_running:
                record = status_record_transition(current, status, runner_id)
                stamped = database.write_one(
                    _SET_STATUS_IF_UNCHANGED,
                    (
                        *self._values(record, invocation_id),
                        current.status.value,
                        current.runner_id,
                    ),
                )
                if stamped:
                    return _stamped(record, stamped), False

        def change(tx: sqlite3.Connection) -> tuple[InvocationStatusRecord, bool]:
            current, task_id = self._read(tx, invocation_id)
            blocked = (
                enforce_running
                and current.status == InvocationStatus.PENDING
                and self._running_elsewhere(tx, invocation_id, task_id)
            )
            record = status_record_transition(
                current, InvocationStatus.REROUTED if blocked else status, runner_id
            )
            stamped = tx.execute(_SET_STATUS, self._values(record, invocation_id)).fetchall()
            record = _stamped(record, stamped)
            if also is not None:
                also(tx, record)
            return record, blocked

        return database.transact(change)

    def _values(
        self, record: InvocationStatusRecord, invocation_id: "InvocationId"
    ) -> tuple[object, ...]:
        """The leading parameters of :data:`_SET_STATUS` and its variant."""
        return (
            record.status.value,
            record.runner_id,
            record.status.is_final(),
            self.rows.app_key,
            invocation_id,
        )

    def _read(
        self, conn: sqlite3.Connection, invocation_id: "InvocationId"
    ) -> tuple[InvocationStatusRecord, str]:
        """The stored record and task id (in the caller's transaction, if any)."""
        row = conn.execute(_RECORD_QUERY, (self.rows.app_key, invocation_id)).fetchone()
        if row is None:
            raise self.rows.unknown(invocation_id)
        return InvocationStatusRecord(status_of(row[0]), row[1], utc(row[2])), row[3]

    def _running_elsewhere(
        self, tx: sqlite3.Connection, invocation_id: "InvocationId", task_id: str
    ) -> bool:
        """Whether running concurrency forbids this invocation to start now."""
        task = self.task_of(task_id)
        mode = task.conf.running_concurrency
        if mode == ConcurrencyControlType.DISABLED:
            return False
        key = self.rows.app_key
        query = (
            f"SELECT 1 FROM {Tables.INVOCATIONS} AS j WHERE j.app_key = ? AND j.task_id = ? "
            "AND j.status = ? AND j.invocation_id != ?"
        )
        params: list[object] = [key, task_id, InvocationStatus.RUNNING.value, invocation_id]
        if mode != ConcurrencyControlType.TASK:  # every compared argument must be equal
            compared = (
                ""
                if mode == ConcurrencyControlType.ARGUMENTS
                else (f" AND mine.arg_key IN ({placeholders(task.conf.key_arguments)})")
            )
            query += (
                f" AND NOT EXISTS (SELECT 1 FROM {Tables.INVOCATION_ARGS} AS mine"
                f" WHERE mine.app_key = ? AND mine.invocation_id = ?{compared}"
                f" AND NOT EXISTS (SELECT 1 FROM {Tables.INVOCATION_ARGS} AS theirs"
                " WHERE theirs.app_key = mine.app_key AND theirs.invocation_id = j.invocation_id"
                " AND theirs.arg_key = mine.arg_key AND theirs.arg_value = mine.arg_value))"
            )
            params += [key, invocation_id]
            if compared:
                params += list(task.conf.key_arguments)
        return tx.execute(query + " LIMIT 1", params).fetchone() is not None

    def status(self, invocation_id: "InvocationId") -> InvocationStatus:
        """The stored status (the hot read: no record is built).

        :raises KeyError: the invocation is not registered in this app.
        """
        found = self.rows.fetch(_STATUS_QUERY, (self.rows.app_key, invocation_id))
        if not found:
            raise self.rows.unknown(invocation_id)
        return status_of(found[0][0])

    def record(self, invocation_id: "InvocationId") -> InvocationStatusRecord:
        """The stored status, owner and time of the last change.

        :raises KeyError: the invocation is not registered in this app.
        """
        with self.rows.database.translate_errors():
            record, _ = self._read(self.rows.database.connection(), invocation_id)
        return record

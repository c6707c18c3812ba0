"""Registration and look-ups: invocation rows, their argument index, retries and purge."""

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from time import time
from typing import TYPE_CHECKING, Any

from pynenc.conf.config_task import ConcurrencyControlType
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord

from pynenc_sqlite.rows import AppRows, epoch, invocation_ids, placeholders
from pynenc_sqlite.schema import MessageTables, Tables

if TYPE_CHECKING:
    from pynenc.identifiers.call_id import CallId
    from pynenc.identifiers.task_id import TaskId
    from pynenc.invocation.dist_invocation import DistributedInvocation
    from pynenc.task import Task

#: Rows in the first page, and in later ones, of look-ups that callers usually stop
#: reading early.
_FIRST_PAGE = 10
_PAGE = 100


def _concurrency_controlled(task: "Task[Any, Any]") -> bool:
    disabled = ConcurrencyControlType.DISABLED
    return bool(
        task.conf.registration_concurrency != disabled or task.conf.running_concurrency != disabled
    )


@dataclass(frozen=True)
class _ExistingQuery:
    """The invocations of a task matching arguments and statuses, oldest first, by pages.

    Without arguments and with several statuses, one ``UNION ALL`` arm per status
    lets SQLite merge the arms in the task index's registration order: a page costs
    its own rows, however many invocations match. With arguments, the search starts
    from the argument index (the most selective) and only the matches are sorted.
    """

    sources: str
    arms: tuple[tuple[str, tuple[object, ...]], ...]
    ordered_by_index: bool

    @classmethod
    def build(
        cls,
        app_key: int,
        task: "Task[Any, Any]",
        key_serialized_arguments: dict[str, str] | None,
        statuses: list[InvocationStatus] | None,
    ) -> "_ExistingQuery":
        """The query for one task; ``app_key`` and every value are bound parameters."""
        arguments = list((key_serialized_arguments or {}).items())
        sources = [f"{Tables.INVOCATION_ARGS} AS a{n}" for n in range(len(arguments))]
        conditions = [
            f"a{n}.app_key = ? AND a{n}.arg_key = ? AND a{n}.arg_value = ?"
            + (f" AND a{n}.invocation_id = a0.invocation_id" if n else "")
            for n in range(len(arguments))
        ]
        params: list[object] = [value for key, arg in arguments for value in (app_key, key, arg)]
        if arguments:
            conditions.append("i.invocation_id = a0.invocation_id")
        conditions.append("i.app_key = ? AND i.task_id = ?")
        params += (app_key, task.task_id.key)
        values = list(dict.fromkeys(status.value for status in statuses or ()))
        arms: tuple[tuple[str, tuple[object, ...]], ...]
        if arguments or len(values) < 2:  # one arm
            if values:
                conditions.append(f"i.status IN ({placeholders(values)})")
            arms = ((" AND ".join(conditions), (*params, *values)),)
        else:
            where = " AND ".join([*conditions, "i.status = ?"])
            arms = tuple((where, (*params, value)) for value in values)
        # CROSS JOIN fixes the join order (argument index first).
        return cls(
            " CROSS JOIN ".join([*sources, f"{Tables.INVOCATIONS} AS i"]),
            arms,
            ordered_by_index=not arguments and bool(values),
        )

    def page(self, limit: int, after: tuple[float, int] | None = None) -> tuple[str, list[object]]:
        """SQL and parameters of the ``limit`` rows (id, registered_time, seq) past ``after``."""
        keyset = " AND (i.registered_time, i.seq) > (?, ?)" if after else ""
        selects = [
            f"SELECT i.invocation_id, i.registered_time, i.seq FROM {self.sources} "
            f"WHERE {where}{keyset}"
            for where, _ in self.arms
        ]
        params = [value for _, arm_params in self.arms for value in (*arm_params, *(after or ()))]
        if len(selects) > 1:
            order = "2, 3"
        elif self.ordered_by_index:
            order = "i.registered_time, i.seq"
        else:  # unary + keeps the ordering out of index choice: the app is never walked
            order = "+i.registered_time, +i.seq"
        return f"{' UNION ALL '.join(selects)} ORDER BY {order} LIMIT {int(limit)}", params


@dataclass(frozen=True)
class Registration:
    """Invocation rows of one app: inserted REGISTERED, looked up, counted, purged."""

    rows: AppRows

    def register(
        self,
        invocations: list["DistributedInvocation[Any, Any]"],
        record: InvocationStatusRecord,
    ) -> None:
        """Insert invocations with ``record``; existing ones are left as they are."""
        self.rows.database.transact(lambda tx: self.insert(tx, invocations, record))

    def register_unless_registered(
        self,
        candidate: "DistributedInvocation[Any, Any]",
        key_serialized_arguments: dict[str, str] | None,
        record: InvocationStatusRecord,
    ) -> InvocationId | None:
        """The oldest REGISTERED invocation of the candidate's task with these arguments;
        ``None`` after inserting the candidate, when there is none. One write transaction:
        concurrent callers cannot both insert."""
        query = _ExistingQuery.build(
            self.rows.app_key, candidate.task, key_serialized_arguments, [record.status]
        )

        def register(tx: sqlite3.Connection) -> InvocationId | None:
            found = tx.execute(*query.page(1)).fetchone()
            if found is None:
                self.insert(tx, [candidate], record)
            return None if found is None else InvocationId(found[0])

        return self.rows.database.transact(register)

    def insert(
        self,
        tx: sqlite3.Connection,
        invocations: list["DistributedInvocation[Any, Any]"],
        record: InvocationStatusRecord,
    ) -> None:
        """Insert rows in the caller's transaction, with the argument index of
        concurrency-controlled tasks (the base class indexes only after routing)."""
        stamp = epoch(record.timestamp)
        tx.executemany(
            f"""INSERT INTO {Tables.INVOCATIONS} (app_key, invocation_id, task_id,
                    call_id, status, owner_id, status_time, registered_time)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (app_key, invocation_id) DO NOTHING""",
            [
                (
                    self.rows.app_key,
                    invocation.invocation_id,
                    invocation.task.task_id.key,
                    invocation.call.call_id.key,
                    record.status.value,
                    record.runner_id,
                    stamp,
                    stamp,
                )
                for invocation in invocations
            ],
        )
        self._index(tx, [inv for inv in invocations if _concurrency_controlled(inv.task)])

    def index_arguments(self, invocation: "DistributedInvocation[Any, Any]") -> None:
        """Store the invocation's serialized arguments for argument look-ups."""
        self.rows.database.transact(lambda tx: self._index(tx, [invocation]))

    def _index(
        self, tx: sqlite3.Connection, invocations: list["DistributedInvocation[Any, Any]"]
    ) -> None:
        tx.executemany(
            f"INSERT OR REPLACE INTO {Tables.INVOCATION_ARGS} "
            "(app_key, invocation_id, arg_key, arg_value) VALUES (?, ?, ?, ?)",
            [
                (self.rows.app_key, invocation.invocation_id, key, value)
                for invocation in invocations
                for key, value in invocation.call.serialized_arguments.items()
            ],
        )

    # -- look-ups -------------------------------------------------------------
    def existing(
        self,
        task: "Task[Any, Any]",
        key_serialized_arguments: dict[str, str] | None,
        statuses: list[InvocationStatus] | None,
    ) -> Iterator[InvocationId]:
        """Invocations of ``task`` matching every argument and any status, oldest first.

        Read in pages, a short one first, so that callers taking only the first
        (route_call, the concurrency checks) do not pay for every match; no cursor
        stays open between pages.
        """
        query = _ExistingQuery.build(self.rows.app_key, task, key_serialized_arguments, statuses)
        found = self.rows.fetch(*query.page(_FIRST_PAGE))
        limit = _FIRST_PAGE
        while True:
            yield from invocation_ids(found)
            if len(found) < limit:
                return
            limit = _PAGE
            found = self.rows.fetch(*query.page(limit, after=(found[-1][1], found[-1][2])))

    def of_task(self, task_id: "TaskId") -> list[InvocationId]:
        """All invocations of a task, oldest first."""
        return self._oldest_first("task_id", task_id.key)

    def of_call(self, call_id: "CallId") -> list[InvocationId]:
        """All invocations of a call, oldest first."""
        return self._oldest_first("call_id", call_id.key)

    def _oldest_first(self, column: str, value: str) -> list[InvocationId]:
        return invocation_ids(
            self.rows.fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} "
                f"WHERE app_key = ? AND {column} = ? ORDER BY registered_time, seq",
                (self.rows.app_key, value),
            )
        )

    def where(
        self, task_id: "TaskId | None", statuses: list[InvocationStatus] | None
    ) -> tuple[str, list[object]]:
        """The WHERE clause and parameters of this app's invocations matching the filters."""
        where = "app_key = ?"
        params: list[object] = [self.rows.app_key]
        if task_id:
            where += " AND task_id = ?"
            params.append(task_id.key)
        if statuses:
            where += f" AND status IN ({placeholders(statuses)})"
            params += [status.value for status in statuses]
        return where, params

    def page(
        self,
        task_id: "TaskId | None",
        statuses: list[InvocationStatus] | None,
        limit: int,
        offset: int,
    ) -> list[InvocationId]:
        """A page of invocations, newest registration first (ties: newest insert first).

        The order depends only on registration, so pages stay stable while
        statuses change.
        """
        if limit < 0 or offset < 0:
            raise ValueError(f"limit ({limit}) and offset ({offset}) must be zero or positive")
        where, params = self.where(task_id, statuses)
        return invocation_ids(
            self.rows.fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE {where} "
                "ORDER BY registered_time DESC, seq DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        )

    def count(self, task_id: "TaskId | None", statuses: list[InvocationStatus] | None) -> int:
        """Number of invocations matching the filters."""
        where, params = self.where(task_id, statuses)
        ((count,),) = self.rows.fetch(
            f"SELECT COUNT(*) FROM {Tables.INVOCATIONS} WHERE {where}", params
        )
        return int(count)

    def filter_by_status(
        self, invocation_ids_: list[InvocationId], statuses: frozenset[InvocationStatus]
    ) -> list[InvocationId]:
        """The given ids whose status is in ``statuses``, in the given order."""
        if not invocation_ids_ or not statuses:
            return []
        values = sorted(statuses)
        found = {
            row[0]
            for row in self.rows.fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE app_key = ? "
                "AND invocation_id IN (SELECT value FROM json_each(?)) "
                f"AND +status IN ({placeholders(values)})",  # look up by id, not status
                (self.rows.app_key, json.dumps(list(invocation_ids_)), *values),
            )
        }
        return [invocation_id for invocation_id in invocation_ids_ if invocation_id in found]

    # -- retries and purge ----------------------------------------------------
    def add_retry(self, invocation_id: InvocationId) -> None:
        """Add one retry atomically.

        :raises KeyError: the invocation is not registered in this app.
        """
        updated = self.rows.database.write_one(
            f"UPDATE {Tables.INVOCATIONS} SET retries = retries + 1 "
            "WHERE app_key = ? AND invocation_id = ? RETURNING retries",
            (self.rows.app_key, invocation_id),
        )
        if not updated:
            raise self.rows.unknown(invocation_id)

    def retries(self, invocation_id: InvocationId) -> int:
        """Retries so far; 0 for an invocation that is not registered."""
        found = self.rows.fetch(
            f"SELECT retries FROM {Tables.INVOCATIONS} WHERE app_key = ? AND invocation_id = ?",
            (self.rows.app_key, invocation_id),
        )
        return int(found[0][0]) if found else 0

    def mark_for_auto_purge(self, invocation_id: InvocationId) -> None:
        """Mark the invocation for removal once the auto-purge period has passed."""
        self.rows.database.write_one(
            f"UPDATE {Tables.INVOCATIONS} SET auto_purge_time = ? "
            "WHERE app_key = ? AND invocation_id = ?",
            (time(), self.rows.app_key, invocation_id),
        )

    def unqueued(self, registered_before: float, limit: int = 1000) -> list[InvocationId]:
        """REGISTERED since before ``registered_before`` with no message in the broker's
        table of this file: a runner took the message, then stopped before its claim."""
        return invocation_ids(
            self.rows.fetch(
                f"SELECT i.invocation_id FROM {Tables.INVOCATIONS} i "
                "WHERE i.app_key = ? AND i.status = ? AND i.status_time < ? AND NOT EXISTS "
                f"(SELECT 1 FROM {MessageTables.BROKER_MESSAGES} m "
                "WHERE m.app_key = i.app_key AND m.invocation_id = i.invocation_id) LIMIT ?",
                (self.rows.app_key, InvocationStatus.REGISTERED.value, registered_before, limit),
            )
        )

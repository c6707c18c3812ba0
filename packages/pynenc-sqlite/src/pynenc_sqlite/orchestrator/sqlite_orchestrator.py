"""A pynenc orchestrator on SQLite for several processes on one host.

The class is selected in pynenc's config as ``PynencSQLiteOrchestrator``; its
public API follows ``pynenc.orchestrator.sqlite_orchestrator`` (``Tables``,
``SQLiteBlockingControl``, ``SQLiteOrchestrator``). pynenc picks classes by
bare class name, and pynenc has its own ``SQLiteOrchestrator``: the distinct
name is what makes the choice deterministic when both are imported.
"""

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from time import time
from typing import TYPE_CHECKING, Any

from pynenc import context
from pynenc.conf.config_task import ConcurrencyControlType
from pynenc.exceptions import (
    InvocationConcurrencyWithDifferentArgumentsError,
    InvocationStatusTransitionError,
)
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.dist_invocation import DistributedInvocation, ReusedInvocation
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    get_status_definition,
    status_record_transition,
)
from pynenc.orchestrator.atomic_service import (
    ActiveRunnerInfo,
    AtomicServiceExecution,
    AtomicServiceExecutionStatus,
)
from pynenc.orchestrator.base_orchestrator import BaseBlockingControl, BaseOrchestrator

from pynenc_sqlite.conf.config_orchestrator import (
    ConfigOrchestratorPynencSQLite,
    DatabaseSettings,
    load_config,
)
from pynenc_sqlite.database import NOW_SQL, Database
from pynenc_sqlite.schema import Tables

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.call import Call
    from pynenc.identifiers.call_id import CallId
    from pynenc.orchestrator.atomic_service import AtomicServiceRun
    from pynenc.runner.runner_context import RunnerContext
    from pynenc.task import Task

__all__ = [
    "PynencSQLiteOrchestrator",
    "SQLiteBlockingControl",
    "SQLiteOrchestrator",
    "Tables",
]

_RUNNING = AtomicServiceExecutionStatus.RUNNING
_BLOCKED = AtomicServiceExecutionStatus.BLOCKED
_ABANDONED = AtomicServiceExecutionStatus.ABANDONED
_AVAILABLE_FOR_RUN = sorted(InvocationStatus.get_available_for_run_statuses())
_STATUS_BY_VALUE = {status.value: status for status in InvocationStatus}
_STATUS_QUERY = f"SELECT status FROM {Tables.INVOCATIONS} WHERE app_key = ? AND invocation_id = ?"
#: A status write, stamped with the time at which it holds the write lock.
_SET_STATUS = (
    f"UPDATE {Tables.INVOCATIONS} SET status = ?, owner_id = ?, status_time = {NOW_SQL} "
    "WHERE app_key = ? AND invocation_id = ? RETURNING status_time"
)
#: The same, applied only while the status and owner read before are unchanged.
_SET_STATUS_IF_UNCHANGED = _SET_STATUS.replace(
    " RETURNING", " AND status = ? AND owner_id IS ? RETURNING"
)
#: Rows in the first page, and in later ones, of look-ups that callers usually stop
#: reading early.
_FIRST_PAGE = 10
_PAGE = 100


def _concurrency_controlled(task: "Task[Any, Any]") -> bool:
    disabled = ConcurrencyControlType.DISABLED
    return bool(
        task.conf.registration_concurrency != disabled or task.conf.running_concurrency != disabled
    )


def _placeholders(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _ids(rows: list[Any]) -> list[InvocationId]:
    return [InvocationId(row[0]) for row in rows]


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _status(value: str) -> InvocationStatus:
    """The status stored as ``value`` (ValueError for one this pynenc does not know)."""
    return _STATUS_BY_VALUE.get(value) or InvocationStatus(value)


def _stamped(record: InvocationStatusRecord, returned: list[Any]) -> InvocationStatusRecord:
    """``record`` with the time its write stored (``returned`` by :data:`_SET_STATUS`)."""
    return InvocationStatusRecord(record.status, record.runner_id, _utc(returned[0][0]))


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
                conditions.append(f"i.status IN ({_placeholders(values)})")
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


class SQLiteBlockingControl(BaseBlockingControl):
    """Waiting edges between invocations, stored in ``orchestrator_blocking_edges``."""

    def __init__(self, app: "Pynenc", database: Database, app_key: int) -> None:
        self.app = app
        self.database = database
        self.app_key = app_key

    def waiting_for_results(
        self,
        caller_invocation_id: "InvocationId",
        result_invocation_ids: list["InvocationId"],
    ) -> None:
        """Record that ``caller_invocation_id`` waits on each of ``result_invocation_ids``."""
        key = self.app_key
        rows = [
            (key, caller_invocation_id, waited, key, waited) for waited in result_invocation_ids
        ]
        with self.database.write() as tx:
            tx.executemany(  # with the waited invocation's registration order (None if unknown)
                f"""INSERT OR IGNORE INTO {Tables.BLOCKING_EDGES}
                        (app_key, waiter_id, waited_id, waited_registered_time, waited_seq)
                    SELECT ?, ?, ?, i.registered_time, i.seq FROM (SELECT 1)
                    LEFT JOIN {Tables.INVOCATIONS} AS i
                      ON i.app_key = ? AND i.invocation_id = ?""",
                rows,
            )

    def release_waiters(self, waited_invocation_id: "InvocationId") -> None:
        """Remove the invocation from the graph: its waiters and its own waits."""
        with self.database.write() as tx:
            # Two statements, each on its own index (an OR would scan the app's edges).
            for column in ("waited_id", "waiter_id"):
                tx.execute(
                    f"DELETE FROM {Tables.BLOCKING_EDGES} WHERE app_key = ? AND {column} = ?",
                    (self.app_key, waited_invocation_id),
                )

    def get_blocking_invocations(self, max_num_invocations: int) -> Iterator["InvocationId"]:
        """Invocations others wait on, waiting on nothing, available for run, oldest first.

        Edges are walked in their waited invocation's registration order and the walk
        stops at the limit: the cost follows the edges of waited invocations that are
        not available (running ones, typically), not every edge of the app.
        """
        query = f"""
            SELECT DISTINCT e.waited_id
            FROM {Tables.BLOCKING_EDGES} AS e
            CROSS JOIN {Tables.INVOCATIONS} AS i
            WHERE e.app_key = ? AND i.app_key = e.app_key AND i.invocation_id = e.waited_id
              AND i.status IN ({_placeholders(_AVAILABLE_FOR_RUN)})
              AND NOT EXISTS (
                  SELECT 1 FROM {Tables.BLOCKING_EDGES} AS w
                  WHERE w.app_key = e.app_key AND w.waiter_id = e.waited_id)
            ORDER BY e.waited_registered_time, e.waited_seq
            LIMIT ?"""
        params = (self.app_key, *_AVAILABLE_FOR_RUN)
        with self.database.translate_errors():
            rows = (
                self.database.connection()
                .execute(query, (*params, max(max_num_invocations, 0)))
                .fetchall()
            )
        yield from _ids(rows)


class PynencSQLiteOrchestrator(BaseOrchestrator):
    """Orchestrator state in one SQLite file shared by the processes of a host.

    Several apps may share the file: every row carries the app's key, and
    look-ups and purges only see their own app.
    """

    def __init__(self, app: "Pynenc") -> None:
        super().__init__(app)
        self.settings = DatabaseSettings.from_config(self.conf, app.app_id)
        self.database = Database(self.settings)
        self.app_key = self._app_key(app.app_id)
        self._blocking_control = SQLiteBlockingControl(app, self.database, self.app_key)

    @cached_property
    def conf(self) -> ConfigOrchestratorPynencSQLite:
        return load_config(self.app.config_values, self.app.config_filepath)

    @property
    def sqlite_db_path(self) -> str:
        """Path of the database file."""
        return str(self.settings.path)

    @property
    def blocking_control(self) -> BaseBlockingControl:
        return self._blocking_control

    def close(self) -> None:
        """Close this process's connections; the next call opens new ones."""
        self.database.close()

    def _app_key(self, app_id: str) -> int:
        with self.database.write() as tx:
            tx.execute(f"INSERT OR IGNORE INTO {Tables.APPS} (app_id) VALUES (?)", (app_id,))
            (key,) = tx.execute(
                f"SELECT app_key FROM {Tables.APPS} WHERE app_id = ?", (app_id,)
            ).fetchone()
        return int(key)

    def _fetch(self, query: str, params: Sequence[object]) -> list[Any]:
        """Run a read-only statement and return all rows (no cursor stays open)."""
        with self.database.translate_errors():
            return self.database.connection().execute(query, params).fetchall()

    # -- registration and look-ups -----------------------------------------
    def _register_new_invocations(
        self,
        invocations: list["DistributedInvocation[Any, Any]"],
        runner_id: str | None = None,
    ) -> InvocationStatusRecord:
        """Insert invocations as REGISTERED (no owner); existing ones are left as they are."""
        record = status_record_transition(None, InvocationStatus.REGISTERED, runner_id)
        with self.database.write() as tx:
            self._insert_invocations(tx, invocations, record)
        return record

    def _insert_invocations(
        self,
        tx: sqlite3.Connection,
        invocations: list["DistributedInvocation[Any, Any]"],
        record: InvocationStatusRecord,
    ) -> None:
        """Insert REGISTERED rows, with the argument index of concurrency-controlled tasks
        in the same transaction (the base class indexes only after routing)."""
        stamp = _epoch(record.timestamp)
        tx.executemany(
            f"""INSERT INTO {Tables.INVOCATIONS} (app_key, invocation_id, task_id,
                    call_id, status, owner_id, status_time, registered_time)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (app_key, invocation_id) DO NOTHING""",
            [
                (
                    self.app_key,
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
        self._index_arguments(tx, [inv for inv in invocations if _concurrency_controlled(inv.task)])

    def _index_arguments(
        self, tx: sqlite3.Connection, invocations: list["DistributedInvocation[Any, Any]"]
    ) -> None:
        tx.executemany(
            f"INSERT OR REPLACE INTO {Tables.INVOCATION_ARGS} "
            "(app_key, invocation_id, arg_key, arg_value) VALUES (?, ?, ?, ?)",
            [
                (self.app_key, invocation.invocation_id, key, value)
                for invocation in invocations
                for key, value in invocation.call.serialized_arguments.items()
            ],
        )

    def route_call(self, call: "Call[Any, Any]") -> "DistributedInvocation[Any, Any]":
        """Route a call; with registration concurrency, look-up and registration are one
        write transaction, so concurrent clients cannot both register the same call.

        The base class looks up, registers and indexes arguments in separate calls.
        Here a candidate invocation is stored in the state backend first (it stays
        unused when an existing one is reused), then the oldest matching REGISTERED
        invocation is found, or the candidate inserted, under ``BEGIN IMMEDIATE``.
        """
        mode = call.task.conf.registration_concurrency
        if mode == ConcurrencyControlType.DISABLED:
            return super().route_call(call)
        app_id = self.app.app_id
        candidate = DistributedInvocation.from_parent(
            call,
            parent_invocation=context.get_dist_invocation_context(app_id),
            parent_event_id=context.get_trigger_event_context(app_id),
        )
        self.app.state_backend.upsert_invocations([candidate])
        runner_ctx = context.get_or_create_runner_context(app_id)
        record = status_record_transition(None, InvocationStatus.REGISTERED, runner_ctx.runner_id)
        query = _ExistingQuery.build(
            self.app_key,
            call.task,
            call.serialized_args_for_concurrency_control(mode),
            [record.status],
        )
        with self.database.write() as tx:
            found = tx.execute(*query.page(1)).fetchone()
            if found is None:
                self._insert_invocations(tx, [candidate], record)
        if found is None:  # the rest of BaseOrchestrator.register_new_invocations
            self.app.state_backend.add_histories([candidate], record, runner_ctx)
            self.app.trigger.report_tasks_status([candidate.invocation_id], record.status)
            self.route_invocations([candidate])
            return candidate
        existing = self.app.state_backend.get_invocation(InvocationId(found[0]))
        if existing.call.call_id == call.call_id:
            return ReusedInvocation(existing)
        if call.task.conf.on_diff_non_key_args_raise:
            raise InvocationConcurrencyWithDifferentArgumentsError.from_call_mismatch(
                existing_invocation=existing, new_call=call
            )
        return ReusedInvocation(existing, call.arguments)

    def get_existing_invocations(
        self,
        task: "Task[Any, Any]",
        key_serialized_arguments: dict[str, str] | None = None,
        statuses: list[InvocationStatus] | None = None,
    ) -> Iterator["InvocationId"]:
        """Invocations of ``task`` matching every argument and any status, oldest first.

        Read in pages, a short one first, so that callers taking only the first
        (route_call, the concurrency checks) do not pay for every match; no cursor
        stays open between pages.
        """
        query = _ExistingQuery.build(self.app_key, task, key_serialized_arguments, statuses)
        rows = self._fetch(*query.page(_FIRST_PAGE))
        limit = _FIRST_PAGE
        while True:
            yield from _ids(rows)
            if len(rows) < limit:
                return
            limit = _PAGE
            rows = self._fetch(*query.page(limit, after=(rows[-1][1], rows[-1][2])))

    def get_task_invocation_ids(self, task_id: "TaskId") -> Iterator["InvocationId"]:
        """All invocations of a task, oldest first."""
        yield from _ids(
            self._fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} "
                "WHERE app_key = ? AND task_id = ? ORDER BY registered_time, seq",
                (self.app_key, task_id.key),
            )
        )

    def get_call_invocation_ids(self, call_id: "CallId") -> Iterator["InvocationId"]:
        """All invocations of a call, oldest first."""
        yield from _ids(
            self._fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} "
                "WHERE app_key = ? AND call_id = ? ORDER BY registered_time, seq",
                (self.app_key, call_id.key),
            )
        )

    def _filters(
        self, task_id: "TaskId | None", statuses: list[InvocationStatus] | None
    ) -> tuple[str, list[object]]:
        where = "app_key = ?"
        params: list[object] = [self.app_key]
        if task_id:
            where += " AND task_id = ?"
            params.append(task_id.key)
        if statuses:
            where += f" AND status IN ({_placeholders(statuses)})"
            params += [status.value for status in statuses]
        return where, params

    def get_invocation_ids_paginated(
        self,
        task_id: "TaskId | None" = None,
        statuses: list[InvocationStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list["InvocationId"]:
        """A page of invocations, newest registration first (ties: newest insert first).

        The order depends only on registration, so pages stay stable while
        statuses change.
        """
        if limit < 0 or offset < 0:
            raise ValueError(f"limit ({limit}) and offset ({offset}) must be zero or positive")
        where, params = self._filters(task_id, statuses)
        return _ids(
            self._fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE {where} "
                "ORDER BY registered_time DESC, seq DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        )

    def count_invocations(
        self,
        task_id: "TaskId | None" = None,
        statuses: list[InvocationStatus] | None = None,
    ) -> int:
        """Number of invocations matching the filters."""
        where, params = self._filters(task_id, statuses)
        ((count,),) = self._fetch(
            f"SELECT COUNT(*) FROM {Tables.INVOCATIONS} WHERE {where}", params
        )
        return int(count)

    # -- status ---------------------------------------------------------------
    def _atomic_status_transition(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_id: str | None = None,
    ) -> InvocationStatusRecord:
        """Validate with pynenc's rules and write, atomically (see :meth:`_transition`).

        :raises KeyError: the invocation is not registered in this app.
        :raises InvocationStatusTransitionError: the status rules forbid it.
        :raises InvocationStatusOwnershipError: the ownership rules forbid it.
        """
        record, _ = self._transition(invocation_id, status, runner_id, enforce_running=False)
        return record

    def _transition(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_id: str | None,
        *,
        enforce_running: bool,
    ) -> tuple[InvocationStatusRecord, bool]:
        """The new record, and whether running concurrency rerouted the invocation.

        pynenc's rules depend only on the stored status and owner. The fast path reads
        them, validates, and writes with one UPDATE that applies only while both are
        unchanged (a single statement is its own write transaction). When another
        process changed them in between, or running concurrency must be checked, the
        read, the check and the write run in one ``BEGIN IMMEDIATE`` transaction.
        """
        with self.database.translate_errors():
            current, task_id = self._read_record(self.database.connection(), invocation_id)
        checks_running = (
            enforce_running
            and current.status == InvocationStatus.PENDING
            and self._task(task_id).conf.running_concurrency != ConcurrencyControlType.DISABLED
        )
        if not checks_running:
            record = status_record_transition(current, status, runner_id)
            stamped = self.database.write_one(
                _SET_STATUS_IF_UNCHANGED,
                (
                    *self._status_values(record, invocation_id),
                    current.status.value,
                    current.runner_id,
                ),
            )
            if stamped:
                return _stamped(record, stamped), False
        with self.database.write() as tx:
            current, task_id = self._read_record(tx, invocation_id)
            blocked = (
                enforce_running
                and current.status == InvocationStatus.PENDING
                and self._running_elsewhere(tx, invocation_id, task_id)
            )
            record = status_record_transition(
                current, InvocationStatus.REROUTED if blocked else status, runner_id
            )
            stamped = tx.execute(_SET_STATUS, self._status_values(record, invocation_id)).fetchall()
        return _stamped(record, stamped), blocked

    def _status_values(
        self, record: InvocationStatusRecord, invocation_id: "InvocationId"
    ) -> tuple[object, ...]:
        """The leading parameters of :data:`_SET_STATUS` and its variant."""
        return (record.status.value, record.runner_id, self.app_key, invocation_id)

    def _read_record(
        self, conn: sqlite3.Connection, invocation_id: "InvocationId"
    ) -> tuple[InvocationStatusRecord, str]:
        """The stored record and task id (in the caller's transaction, if any)."""
        row = conn.execute(
            f"SELECT status, owner_id, status_time, task_id FROM {Tables.INVOCATIONS} "
            "WHERE app_key = ? AND invocation_id = ?",
            (self.app_key, invocation_id),
        ).fetchone()
        if row is None:
            raise self._unknown(invocation_id)
        return InvocationStatusRecord(_status(row[0]), row[1], _utc(row[2])), row[3]

    def set_invocation_status(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_ctx: "RunnerContext",
    ) -> None:
        """As the base class; moving to RUNNING also enforces running concurrency.

        pynenc checks ``running_concurrency`` in one call and writes RUNNING in the
        next, so two runners can both pass the check. Here the check and the write
        are one transaction: when another invocation of the task (with the same key
        arguments) is RUNNING, the invocation is REROUTED to the broker instead, and
        the InvocationStatusTransitionError that pynenc's own deferral path raises
        (REROUTED -> RUNNING) tells the runner not to run it.
        """
        if status != InvocationStatus.RUNNING:
            super().set_invocation_status(invocation_id, status, runner_ctx)
            return
        record, blocked = self._transition(
            invocation_id, status, runner_ctx.runner_id, enforce_running=True
        )
        self.app.state_backend.add_history(invocation_id, record, runner_ctx)
        self.app.trigger.report_tasks_status([invocation_id], record.status)
        if not blocked:
            self.app.logger.info(f"invocation:{invocation_id} status:{status.value}")
            return
        self.route_invocation(self.app.state_backend.get_invocation(invocation_id))
        self.app.logger.info(f"invocation:{invocation_id} rerouted by running concurrency")
        raise InvocationStatusTransitionError(
            from_status=record.status,
            to_status=status,
            allowed_statuses=get_status_definition(record.status).allowed_transitions,
        )

    def _task(self, task_id: str) -> "Task[Any, Any]":
        return self.app.get_task(TaskId.from_key(task_id))

    def _running_elsewhere(
        self, tx: sqlite3.Connection, invocation_id: "InvocationId", task_id: str
    ) -> bool:
        """Whether running concurrency forbids this invocation to start now."""
        task = self._task(task_id)
        mode = task.conf.running_concurrency
        if mode == ConcurrencyControlType.DISABLED:
            return False
        key = self.app_key
        query = (
            f"SELECT 1 FROM {Tables.INVOCATIONS} AS j WHERE j.app_key = ? AND j.task_id = ? "
            "AND j.status = ? AND j.invocation_id != ?"
        )
        params: list[object] = [key, task_id, InvocationStatus.RUNNING.value, invocation_id]
        if mode != ConcurrencyControlType.TASK:  # every compared argument must be equal
            compared = (
                ""
                if mode == ConcurrencyControlType.ARGUMENTS
                else (f" AND mine.arg_key IN ({_placeholders(task.conf.key_arguments)})")
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

    def _unknown(self, invocation_id: str) -> KeyError:
        return KeyError(
            f"invocation {invocation_id!r} is not registered in app {self.app.app_id!r}"
        )

    def get_invocation_status(self, invocation_id: "InvocationId") -> InvocationStatus:
        """The stored status (the hot read: no record is built).

        :raises KeyError: the invocation is not registered in this app.
        """
        with self.database.translate_errors():
            row = (
                self.database.connection()
                .execute(_STATUS_QUERY, (self.app_key, invocation_id))
                .fetchone()
            )
        if row is None:
            raise self._unknown(invocation_id)
        return _status(row[0])

    def get_invocation_status_record(self, invocation_id: "InvocationId") -> InvocationStatusRecord:
        """The stored status, owner and time of the last change.

        :raises KeyError: the invocation is not registered in this app.
        """
        with self.database.translate_errors():
            record, _ = self._read_record(self.database.connection(), invocation_id)
        return record

    def filter_by_status(
        self,
        invocation_ids: list["InvocationId"],
        status_filter: frozenset[InvocationStatus],
    ) -> list["InvocationId"]:
        """The given ids whose status is in ``status_filter``, in the given order."""
        if not invocation_ids or not status_filter:
            return []
        statuses = sorted(status_filter)
        found = {
            row[0]
            for row in self._fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE app_key = ? "
                "AND invocation_id IN (SELECT value FROM json_each(?)) "
                f"AND +status IN ({_placeholders(statuses)})",  # look up by id, not status
                (self.app_key, json.dumps(list(invocation_ids)), *statuses),
            )
        }
        return [invocation_id for invocation_id in invocation_ids if invocation_id in found]

    # -- retries, arguments, purge ------------------------------------------
    def increment_invocation_retries(self, invocation_id: "InvocationId") -> None:
        """Add one retry atomically.

        :raises KeyError: the invocation is not registered in this app.
        """
        with self.database.write() as tx:
            updated = tx.execute(
                f"UPDATE {Tables.INVOCATIONS} SET retries = retries + 1 "
                "WHERE app_key = ? AND invocation_id = ?",
                (self.app_key, invocation_id),
            ).rowcount
            if not updated:
                raise self._unknown(invocation_id)

    def get_invocation_retries(self, invocation_id: "InvocationId") -> int:
        """Retries so far; 0 for an invocation that is not registered."""
        rows = self._fetch(
            f"SELECT retries FROM {Tables.INVOCATIONS} WHERE app_key = ? AND invocation_id = ?",
            (self.app_key, invocation_id),
        )
        return int(rows[0][0]) if rows else 0

    def index_arguments_for_concurrency_control(
        self, invocation: "DistributedInvocation[Any, Any]"
    ) -> None:
        """Store the invocation's serialized arguments for argument look-ups."""
        with self.database.write() as tx:
            self._index_arguments(tx, [invocation])

    def set_up_invocation_auto_purge(self, invocation_id: "InvocationId") -> None:
        """Mark the invocation for removal once the auto-purge period has passed."""
        with self.database.write() as tx:
            tx.execute(
                f"UPDATE {Tables.INVOCATIONS} SET auto_purge_time = ? "
                "WHERE app_key = ? AND invocation_id = ?",
                (time(), self.app_key, invocation_id),
            )

    def auto_purge(self) -> None:
        """Remove invocations marked longer ago than ``auto_final_invocation_purge_hours``."""
        cutoff = time() - self.conf.auto_final_invocation_purge_hours * 3600
        expired = (
            f"SELECT invocation_id FROM {Tables.INVOCATIONS} "
            "WHERE app_key = ? AND auto_purge_time IS NOT NULL AND auto_purge_time <= ?"
        )
        key = self.app_key
        with self.database.write() as tx:
            tx.execute(
                f"DELETE FROM {Tables.BLOCKING_EDGES} WHERE app_key = ? "
                f"AND (waited_id IN ({expired}) OR waiter_id IN ({expired}))",
                (key, key, cutoff, key, cutoff),
            )
            tx.execute(
                f"DELETE FROM {Tables.INVOCATION_ARGS} WHERE app_key = ? "
                f"AND invocation_id IN ({expired})",
                (key, key, cutoff),
            )
            tx.execute(
                f"DELETE FROM {Tables.INVOCATIONS} WHERE app_key = ? "
                "AND auto_purge_time IS NOT NULL AND auto_purge_time <= ?",
                (key, cutoff),
            )

    def purge(self) -> None:
        """Remove every row of this app; other apps in the same file are untouched."""
        with self.database.write() as tx:
            for table in Tables.APP_SCOPED:
                tx.execute(f"DELETE FROM {table} WHERE app_key = ?", (self.app_key,))

    # -- runners and recovery -----------------------------------------------
    def register_runner_heartbeats(
        self,
        runner_ids: list[str],
        can_run_atomic_service: bool = False,
        consumed_queues: Sequence[str] | None = None,
    ) -> None:
        """Create or refresh runners; creation time is kept, queues change only when given."""
        if not runner_ids:
            return
        now = time()
        queues = None if consumed_queues is None else json.dumps(list(consumed_queues))
        rows = [
            {
                "app_key": self.app_key,
                "runner_id": runner_id,
                "now": now,
                "eligible": int(can_run_atomic_service),
                "queues": queues,
            }
            for runner_id in runner_ids
        ]
        with self.database.write() as tx:
            tx.executemany(
                f"""INSERT INTO {Tables.RUNNER_HEARTBEATS} (app_key, runner_id,
                        creation_time, last_heartbeat, can_run_atomic_service,
                        consumed_queues)
                    VALUES (:app_key, :runner_id, :now, :now, :eligible,
                        COALESCE(:queues, '[]'))
                    ON CONFLICT (app_key, runner_id) DO UPDATE SET
                        last_heartbeat = excluded.last_heartbeat,
                        can_run_atomic_service = excluded.can_run_atomic_service,
                        consumed_queues = COALESCE(:queues, consumed_queues)""",
                rows,
            )

    def _get_active_runners(
        self, timeout_seconds: float, can_run_atomic_service: bool | None = None
    ) -> list[ActiveRunnerInfo]:
        """Runners seen within ``timeout_seconds``, by creation time, then runner id."""
        where = "app_key = ? AND last_heartbeat >= ?"
        params: list[object] = [self.app_key, time() - timeout_seconds]
        if can_run_atomic_service is not None:
            where += " AND can_run_atomic_service = ?"
            params.append(int(can_run_atomic_service))
        rows = self._fetch(
            f"SELECT runner_id, creation_time, last_heartbeat, can_run_atomic_service, "
            f"consumed_queues FROM {Tables.RUNNER_HEARTBEATS} WHERE {where} "
            "ORDER BY creation_time, runner_id",
            params,
        )
        return [
            ActiveRunnerInfo(
                runner_id=runner_id,
                creation_time=_utc(created),
                last_heartbeat=_utc(seen),
                allow_to_run_atomic_service=bool(eligible),
                consumed_queues=tuple(json.loads(queues)),
            )
            for runner_id, created, seen, eligible, queues in rows
        ]

    def get_pending_invocations_for_recovery(self) -> Iterator["InvocationId"]:
        """PENDING invocations older than ``max_pending_seconds``, oldest first."""
        cutoff = time() - self.app.conf.max_pending_seconds
        yield from _ids(
            self._fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE app_key = ? "
                "AND status = ? AND status_time <= ? ORDER BY status_time, seq",
                (self.app_key, InvocationStatus.PENDING.value, cutoff),
            )
        )

    def _get_running_invocations_for_recovery(
        self, timeout_seconds: float
    ) -> Iterator["InvocationId"]:
        """RUNNING invocations whose owner sent no heartbeat within ``timeout_seconds``."""
        yield from _ids(
            self._fetch(
                f"""SELECT i.invocation_id FROM {Tables.INVOCATIONS} AS i
                    LEFT JOIN {Tables.RUNNER_HEARTBEATS} AS r
                      ON r.app_key = i.app_key AND r.runner_id = i.owner_id
                    WHERE i.app_key = ? AND i.status = ?
                      AND (r.runner_id IS NULL OR r.last_heartbeat < ?)
                    ORDER BY i.status_time, i.seq""",
                (self.app_key, InvocationStatus.RUNNING.value, time() - timeout_seconds),
            )
        )

    # -- atomic service -------------------------------------------------------
    def record_atomic_service_execution_start(
        self,
        atomic_service_run: "AtomicServiceRun",
        started_at: datetime | None,
        status: AtomicServiceExecutionStatus = _RUNNING,
        reason: str = "",
    ) -> bool:
        """Insert an execution record; for RUNNING, the cluster-wide gate.

        At most one RUNNING record exists per app. A RUNNING record whose runner
        stopped sending heartbeats (``runner_considered_dead_after_minutes``) is
        closed as ABANDONED so that a killed runner cannot hold the slot forever.
        A refused claim is stored as a zero-width BLOCKED row. The start is stamped
        inside the write transaction, and an abandoned record ends at that instant, so
        recorded windows never overlap.
        """
        run_id = atomic_service_run.atomic_service_id.atomic_service_run_id
        runner_id = atomic_service_run.atomic_service_id.runner_id
        accepted = status != _BLOCKED
        with self.database.write() as tx:
            started = started_at or datetime.now(UTC)
            atomic_service_run.started_at = started
            if status == _RUNNING:
                prior = self._current_running(tx, _epoch(started))
                if prior is not None and prior[0] == run_id:
                    return True
                if prior is not None:
                    status, reason = (
                        _BLOCKED,
                        reason or f"prior_running:{prior[0]} runner:{prior[1]}",
                    )
                    accepted = False
            end = started if status == _BLOCKED else None
            tx.execute(
                f"INSERT OR REPLACE INTO {Tables.ATOMIC_SERVICE_EXECUTIONS} (app_key, run_id, "
                "runner_id, start_time, end_time, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.app_key,
                    run_id,
                    runner_id,
                    _epoch(started),
                    None if end is None else _epoch(end),
                    status.value,
                    reason,
                ),
            )
        if status != _RUNNING:
            self.purge_atomic_service_executions()
        return accepted

    def _current_running(self, tx: sqlite3.Connection, now: float) -> tuple[str, str] | None:
        """The live RUNNING record (run id, runner id); one of a dead runner is closed as
        ABANDONED at ``now``."""
        row = tx.execute(
            f"""SELECT e.run_id, e.runner_id, r.last_heartbeat
                FROM {Tables.ATOMIC_SERVICE_EXECUTIONS} AS e
                LEFT JOIN {Tables.RUNNER_HEARTBEATS} AS r
                  ON r.app_key = e.app_key AND r.runner_id = e.runner_id
                WHERE e.app_key = ? AND e.status = ?""",
            (self.app_key, _RUNNING.value),
        ).fetchone()
        if row is None:
            return None
        run_id, runner_id, last_heartbeat = row
        dead_after = self.app.conf.runner_considered_dead_after_minutes * 60
        if last_heartbeat is not None and last_heartbeat >= now - dead_after:
            return run_id, runner_id
        tx.execute(
            f"UPDATE {Tables.ATOMIC_SERVICE_EXECUTIONS} SET status = ?, end_time = ?, "
            "reason = ? WHERE app_key = ? AND run_id = ?",
            (
                _ABANDONED.value,
                now,
                f"runner {runner_id} sent no heartbeat for {dead_after:g}s",
                self.app_key,
                run_id,
            ),
        )
        return None

    def finalize_atomic_service_execution(
        self,
        atomic_service_run: "AtomicServiceRun",
        end_time: datetime,
        status: AtomicServiceExecutionStatus,
        reason: str = "",
    ) -> None:
        """Close the RUNNING record; the first terminal status wins.

        Without a record for the run, a zero-width one is inserted so the attempt
        stays visible.
        """
        run_id = atomic_service_run.atomic_service_id.atomic_service_run_id
        end = _epoch(end_time)
        with self.database.write() as tx:
            tx.execute(
                f"INSERT INTO {Tables.ATOMIC_SERVICE_EXECUTIONS} (app_key, run_id, runner_id,"
                " start_time, end_time, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (app_key, run_id) DO UPDATE SET end_time = excluded.end_time,"
                " status = excluded.status,"
                " reason = CASE WHEN excluded.reason = '' THEN reason ELSE excluded.reason END"
                " WHERE status = 'running'",
                (
                    self.app_key,
                    run_id,
                    atomic_service_run.atomic_service_id.runner_id,
                    end,
                    end,
                    status.value,
                    reason,
                ),
            )
        self.purge_atomic_service_executions()

    def _executions(self, where: str, params: Sequence[object]) -> list[AtomicServiceExecution]:
        rows = self._fetch(
            f"SELECT runner_id, run_id, start_time, end_time, status, reason "
            f"FROM {Tables.ATOMIC_SERVICE_EXECUTIONS} WHERE app_key = ? AND {where}",
            (self.app_key, *params),
        )
        return [
            AtomicServiceExecution.from_raw(
                runner_id=runner_id,
                atomic_service_run_id=run_id,
                start_time=_utc(start),
                end_time=None if end is None else _utc(end),
                status=AtomicServiceExecutionStatus(status),
                reason=reason,
            )
            for runner_id, run_id, start, end, status, reason in rows
        ]

    def get_active_atomic_service_executions(self) -> list[AtomicServiceExecution]:
        """RUNNING executions, most recently started first."""
        return self._executions("status = ? ORDER BY start_time DESC", (_RUNNING.value,))

    def get_atomic_service_executions_in_timerange(
        self,
        start_time: datetime,
        end_time: datetime,
        limit: int = 1000,
        *,
        runner_id: str | None = None,
        min_duration_seconds: float = 0.0,
    ) -> list[AtomicServiceExecution]:
        """Executions overlapping [start_time, end_time], newest start first.

        A RUNNING execution (no end yet) overlaps every range after its start.
        """
        where = "start_time <= ? AND (end_time IS NULL OR end_time >= ?)"
        params: list[object] = [_epoch(end_time), _epoch(start_time)]
        if runner_id is not None:
            where += " AND runner_id = ?"
            params.append(runner_id)
        if min_duration_seconds > 0:
            where += " AND end_time IS NOT NULL AND end_time - start_time >= ?"
            params.append(min_duration_seconds)
        return self._executions(
            f"{where} ORDER BY start_time DESC LIMIT ?", (*params, max(limit, 0))
        )

    def purge_atomic_service_executions(self) -> int:
        """Drop finished records past the retention time, then the oldest beyond the cap.

        RUNNING records and records referenced by trigger history are kept.
        """
        retention_minutes = float(self.app.conf.atomic_service_execution_retention_minutes)
        max_records = int(self.app.conf.atomic_service_execution_max_records)
        protected = json.dumps(sorted(self.app.trigger.get_referenced_atomic_service_run_ids()))
        purgeable = (
            "app_key = ? AND status != 'running' AND run_id NOT IN (SELECT value FROM json_each(?))"
        )
        removed = 0
        with self.database.write() as tx:
            if retention_minutes > 0:
                cutoff = (datetime.now(UTC) - timedelta(minutes=retention_minutes)).timestamp()
                removed += tx.execute(
                    f"DELETE FROM {Tables.ATOMIC_SERVICE_EXECUTIONS} "
                    f"WHERE {purgeable} AND end_time < ?",
                    (self.app_key, protected, cutoff),
                ).rowcount
            if max_records > 0:
                removed += tx.execute(
                    f"""DELETE FROM {Tables.ATOMIC_SERVICE_EXECUTIONS}
                        WHERE app_key = ? AND run_id IN (
                            SELECT run_id FROM {Tables.ATOMIC_SERVICE_EXECUTIONS}
                            WHERE {purgeable}
                            ORDER BY start_time DESC, run_id DESC
                            LIMIT -1 OFFSET ?)""",
                    (self.app_key, self.app_key, protected, max_records),
                ).rowcount
        return removed


#: The name of pynenc's own class, for code that imports it from here.
SQLiteOrchestrator = PynencSQLiteOrchestrator

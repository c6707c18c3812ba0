"""A pynenc state backend on SQLite for several processes on one host.

Selected in pynenc's config as ``PynencSQLiteStateBackend`` (pynenc has its own
``SQLiteStateBackend``). It stores invocations with their calls, the status
history, results and exceptions, runner contexts, workflows and app info in
``state_*`` tables beside the orchestrator's, on the same database layer: kept
connections per process and thread, fork safety, every journal mode, clear errors.
When the app's orchestrator is pynenc-sqlite's on the same file with the same
settings, both use one :class:`~pynenc_sqlite.database.Database`.
"""

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynenc.app_info import AppInfo
from pynenc.identifiers.call_id import CallId
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.runner.runner_context import RunnerContext
from pynenc.state_backend.base_state_backend import BaseStateBackend, InvocationHistory
from pynenc.workflow.workflow_identity import WorkflowIdentity

from pynenc_sqlite.conf.config_database import load_config
from pynenc_sqlite.conf.config_state_backend import ConfigStateBackendPynencSQLite
from pynenc_sqlite.rows import OnDatabase, invocation_ids, open_rows, placeholders
from pynenc_sqlite.schema import StateTables, Tables

if TYPE_CHECKING:
    from pynenc.app import Pynenc

__all__ = ["PynencSQLiteStateBackend"]

S = StateTables
_RUNNER_COLUMNS = "runner_id, runner_cls, parent_runner_id, pid, hostname, thread_id"
#: Rows per page of the time-range iterations when the caller gives no batch size.
_BATCH = 100
_SET_OUTCOME = (
    f"INSERT OR REPLACE INTO {S.RESULTS} (app_key, invocation_id, kind, data) VALUES (?, ?, ?, ?)"
)


class PynencSQLiteStateBackend(OnDatabase, BaseStateBackend[Any, Any]):
    """Invocation state in one SQLite file shared by the processes of a host.

    Several apps may share the file: every row carries the app's key.
    """

    def __init__(self, app: "Pynenc") -> None:
        super().__init__(app)
        self.rows = open_rows(app, self.conf)

    @cached_property
    def conf(self) -> ConfigStateBackendPynencSQLite:
        return load_config(
            ConfigStateBackendPynencSQLite, self.app.config_values, self.app.config_filepath
        )

    def _write(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        """One statement per row, in one write transaction."""
        self.database.transact(lambda tx: tx.executemany(statement, rows))

    def _one(self, query: str, *params: object) -> Any:
        """The first column of the first row, or None."""
        found = self.rows.fetch(query, (self.rows.app_key, *params))
        return found[0][0] if found else None

    def purge(self) -> None:
        """Remove every row of this app; other apps in the same file are untouched."""
        self.rows.delete_all(S.APP_SCOPED)
        self._runner_context_cache.clear()

    # -- invocations ----------------------------------------------------------
    def _upsert_invocations(self, entries: list[tuple[InvocationDTO, CallDTO]]) -> None:
        key = self.rows.app_key
        self._write(
            f"""INSERT OR REPLACE INTO {S.INVOCATIONS} (app_key, invocation_id, call_id,
                    serialized_arguments, parent_invocation_id, parent_event_id,
                    workflow_id, workflow_type, parent_workflow_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    key,
                    invocation.invocation_id,
                    call.call_id.key,
                    json.dumps(call.serialized_arguments),
                    invocation.parent_invocation_id,
                    invocation.parent_event_id,
                    *(
                        (
                            workflow.workflow_id,
                            workflow.workflow_type.key,
                            workflow.parent_workflow_id,
                        )
                        if (workflow := invocation.workflow)
                        else (None, None, None)
                    ),
                )
                for invocation, call in entries
            ],
        )

    def _get_invocation(self, invocation_id: InvocationId) -> tuple[InvocationDTO, CallDTO] | None:
        found = self.rows.fetch(
            f"""SELECT call_id, serialized_arguments, parent_invocation_id, parent_event_id,
                    workflow_id, workflow_type, parent_workflow_id
                FROM {S.INVOCATIONS} WHERE app_key = ? AND invocation_id = ?""",
            (self.rows.app_key, invocation_id),
        )
        if not found:
            return None
        call_key, arguments, parent, event, workflow_id, workflow_type, parent_workflow = found[0]
        call_id = CallId.from_key(call_key)
        workflow = (
            WorkflowIdentity(
                workflow_id=InvocationId(workflow_id),
                workflow_type=TaskId.from_key(workflow_type),
                parent_workflow_id=InvocationId(parent_workflow) if parent_workflow else None,
            )
            if workflow_id and workflow_type
            else None
        )
        invocation = InvocationDTO(
            invocation_id=invocation_id,
            call_id=call_id,
            workflow=workflow,
            parent_invocation_id=InvocationId(parent) if parent else None,
            parent_event_id=event or None,
        )
        return invocation, CallDTO(call_id=call_id, serialized_arguments=json.loads(arguments))

    def get_child_invocations(self, parent_invocation_id: InvocationId) -> Iterator[InvocationId]:
        """Invocations whose parent is ``parent_invocation_id``."""
        return self._invocations_where("parent_invocation_id = ?", parent_invocation_id)

    def get_invocations_by_parent_event(self, parent_event_id: str) -> Iterator[InvocationId]:
        """Invocations that the trigger event ``parent_event_id`` created."""
        return self._invocations_where("parent_event_id = ?", parent_event_id)

    def get_invocation_ids_by_workflow(
        self, workflow_id: str | None = None, workflow_type_key: str | None = None
    ) -> Iterator[InvocationId]:
        """Invocations of a workflow run and/or a workflow type (all without filters)."""
        conditions = {"workflow_id = ?": workflow_id, "workflow_type = ?": workflow_type_key}
        given = {condition: value for condition, value in conditions.items() if value}
        return self._invocations_where(" AND ".join(given) or "1", *given.values())

    def _invocations_where(self, condition: str, *params: object) -> Iterator[InvocationId]:
        return iter(
            invocation_ids(
                self.rows.fetch(
                    f"SELECT invocation_id FROM {S.INVOCATIONS} WHERE app_key = ? AND {condition}",
                    (self.rows.app_key, *params),
                )
            )
        )

    # -- history, results and exceptions -----------------------------------------
    def _add_histories(
        self, invocation_ids: list[InvocationId], invocation_history: InvocationHistory
    ) -> None:
        """The same entry for each invocation, appended to its history."""
        self.database.transact(
            lambda tx: self.add_histories_in(tx, invocation_ids, invocation_history)
        )

    def add_history_in(
        self,
        tx: sqlite3.Connection,
        invocation_id: InvocationId,
        record: InvocationStatusRecord,
        runner_id: str,
    ) -> None:
        """Store the history entry of a status change in the caller's write transaction
        on this database (the orchestrator's, so that a kill cannot separate them)."""
        entry = InvocationHistory(invocation_id, record, runner_id)
        self.add_histories_in(tx, [invocation_id], entry)

    def add_histories_in(
        self,
        tx: sqlite3.Connection,
        invocation_ids: list[InvocationId],
        invocation_history: InvocationHistory,
    ) -> None:
        """Append history entries in the caller's write transaction on this database.

        Every entry is kept, those with the same time and status as an earlier one
        included (a frozen or coarse clock); ``seq`` keeps the order they were stored in.
        """
        entry = json.loads(invocation_history.to_json())
        ts = invocation_history.timestamp.timestamp()
        status = invocation_history.status_record.status.value
        tx.executemany(
            f"""INSERT INTO {S.HISTORY} (app_key, invocation_id, ts, status, entry)
                VALUES (?, ?, ?, ?, ?)""",
            [
                (
                    self.rows.app_key,
                    invocation_id,
                    ts,
                    status,
                    json.dumps({**entry, "invocation_id": invocation_id}),
                )
                for invocation_id in invocation_ids
            ],
        )

    def _get_history(self, invocation_id: InvocationId) -> list[InvocationHistory]:
        """Entries oldest first (ties: in the order they were stored)."""
        return [
            InvocationHistory.from_json(row[0])
            for row in self.rows.fetch(
                f"SELECT entry FROM {S.HISTORY} WHERE app_key = ? AND invocation_id = ? "
                "ORDER BY ts, seq",
                (self.rows.app_key, invocation_id),
            )
        ]

    def _set_result(self, invocation_id: InvocationId, serialized_result: str) -> None:
        self._set_outcome(invocation_id, "result", serialized_result)

    def _get_result(self, invocation_id: InvocationId) -> str:
        return self._get_outcome(invocation_id, "result")

    def _set_exception(self, invocation_id: InvocationId, serialized_exception: str) -> None:
        self._set_outcome(invocation_id, "exception", serialized_exception)

    def _get_exception(self, invocation_id: InvocationId) -> str:
        return self._get_outcome(invocation_id, "exception")

    def _set_outcome(self, invocation_id: InvocationId, kind: str, data: str) -> None:
        self.database.write_one(_SET_OUTCOME, (self.rows.app_key, invocation_id, kind, data))

    def set_outcome_in(
        self, tx: sqlite3.Connection, invocation_id: InvocationId, kind: str, data: str
    ) -> None:
        """Store a serialized ``result`` or ``exception`` (``kind``) in the caller's write
        transaction on this database (the orchestrator's, with the final status)."""
        tx.execute(_SET_OUTCOME, (self.rows.app_key, invocation_id, kind, data))

    def _get_outcome(self, invocation_id: InvocationId, kind: str) -> str:
        """:raises KeyError: nothing of ``kind`` is stored for the invocation."""
        data = self._one(
            f"SELECT data FROM {S.RESULTS} WHERE app_key = ? AND invocation_id = ? AND kind = ?",
            invocation_id,
            kind,
        )
        if data is None:
            raise KeyError(f"{kind} of invocation {invocation_id!r} not found")
        return str(data)

    def iter_invocations_in_timerange(
        self, start_time: datetime, end_time: datetime, batch_size: int = _BATCH
    ) -> Iterator[list[InvocationId]]:
        """Invocations with a history entry in [start_time, end_time], by id, in batches."""
        for rows in self._history_pages(
            "DISTINCT invocation_id", ("invocation_id",), ("",), (start_time, end_time), batch_size
        ):
            yield invocation_ids(rows)

    def iter_history_in_timerange(
        self, start_time: datetime, end_time: datetime, batch_size: int = _BATCH
    ) -> Iterator[list[InvocationHistory]]:
        """History entries in [start_time, end_time], oldest first, in batches."""
        for rows in self._history_pages(
            "entry", ("ts", "seq"), (float("-inf"), 0), (start_time, end_time), batch_size
        ):
            yield [InvocationHistory.from_json(row[0]) for row in rows]

    def _history_pages(
        self,
        columns: str,
        key: tuple[str, ...],
        before_first: tuple[object, ...],
        window: tuple[datetime, datetime],
        batch_size: int,
    ) -> Iterator[list[Any]]:
        """Pages of ``columns`` of the history entries in the time ``window`` (both ends
        included), in order of ``key``; each page starts after the last key of the one
        before."""
        order = ", ".join(key)
        query = (
            f"SELECT {columns}, {order} FROM {S.HISTORY} "
            f"WHERE app_key = ? AND ts >= ? AND ts <= ? AND ({order}) > ({placeholders(key)}) "
            f"ORDER BY {order} LIMIT ?"
        )
        bounds = (self.rows.app_key, window[0].timestamp(), window[1].timestamp())
        after = before_first
        while rows := self.rows.fetch(query, (*bounds, *after, batch_size)):
            yield rows
            after = tuple(rows[-1][-len(key) :])

    # -- runner contexts ------------------------------------------------------------
    def _store_runner_context(self, runner_context: RunnerContext) -> None:
        parent = runner_context.parent_ctx
        self.database.write_one(
            f"INSERT OR REPLACE INTO {S.RUNNER_CONTEXTS} (app_key, {_RUNNER_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.rows.app_key,
                runner_context.runner_id,
                runner_context.runner_cls,
                parent.runner_id if parent else None,
                runner_context.pid,
                runner_context.hostname,
                runner_context.thread_id,
            ),
        )

    def _get_runner_context(self, runner_id: str) -> RunnerContext | None:
        contexts = self._runner_contexts_where("runner_id = ?", runner_id)
        return contexts[0] if contexts else None

    def _get_runner_contexts(self, runner_ids: list[str]) -> list[RunnerContext]:
        if not runner_ids:
            return []
        return self._runner_contexts_where(
            f"runner_id IN ({placeholders(runner_ids)})", *runner_ids
        )

    def get_matching_runner_contexts(self, partial_id: str) -> Iterator[RunnerContext]:
        """Runner contexts whose id contains ``partial_id``."""
        return iter(self._runner_contexts_where("instr(runner_id, ?) > 0", partial_id))

    def _runner_contexts_where(self, condition: str, *params: object) -> list[RunnerContext]:
        """Contexts matching ``condition``, each with its chain of parents.

        :raises KeyError: a parent context is not stored.
        """
        found = self.rows.fetch(
            f"SELECT {_RUNNER_COLUMNS} FROM {S.RUNNER_CONTEXTS} WHERE app_key = ? AND {condition}",
            (self.rows.app_key, *params),
        )
        contexts = []
        for runner_id, runner_cls, parent_id, pid, hostname, thread_id in found:
            parent = self.get_runner_context(parent_id) if parent_id else None
            if parent_id and parent is None:
                raise KeyError(f"parent runner context {parent_id!r} of {runner_id!r} not found")
            contexts.append(
                RunnerContext(
                    runner_cls=runner_cls,
                    runner_id=runner_id,
                    parent_ctx=parent,
                    pid=pid,
                    hostname=hostname,
                    thread_id=thread_id,
                )
            )
        return contexts

    # -- workflows --------------------------------------------------------------------
    def store_workflow_run(self, workflow_identity: WorkflowIdentity) -> None:
        """Record a workflow run."""
        self.database.write_one(
            f"INSERT OR REPLACE INTO {S.WORKFLOWS} (app_key, workflow_id, workflow_type, "
            "parent_workflow_id) VALUES (?, ?, ?, ?)",
            (
                self.rows.app_key,
                workflow_identity.workflow_id,
                workflow_identity.workflow_type.key,
                workflow_identity.parent_workflow_id,
            ),
        )

    def get_all_workflow_types(self) -> Iterator[TaskId]:
        """Task ids of every workflow type that ran."""
        found = self.rows.fetch(
            f"SELECT DISTINCT workflow_type FROM {S.WORKFLOWS} WHERE app_key = ?",
            (self.rows.app_key,),
        )
        return (TaskId.from_key(row[0]) for row in found)

    def get_all_workflow_runs(self) -> Iterator[WorkflowIdentity]:
        """Every workflow run."""
        return self._workflow_runs("1")

    def get_workflow_runs(self, workflow_type: TaskId) -> Iterator[WorkflowIdentity]:
        """The runs of one workflow type."""
        return self._workflow_runs("workflow_type = ?", workflow_type.key)

    def _workflow_runs(self, condition: str, *params: object) -> Iterator[WorkflowIdentity]:
        found = self.rows.fetch(
            f"SELECT workflow_id, workflow_type, parent_workflow_id FROM {S.WORKFLOWS} "
            f"WHERE app_key = ? AND {condition}",
            (self.rows.app_key, *params),
        )
        return (
            WorkflowIdentity(
                workflow_id=InvocationId(workflow_id),
                workflow_type=TaskId.from_key(workflow_type),
                parent_workflow_id=InvocationId(parent) if parent else None,
            )
            for workflow_id, workflow_type, parent in found
        )

    def set_workflow_data(self, workflow_identity: WorkflowIdentity, key: str, value: Any) -> None:
        """Store a value of a workflow run (serialized by the client data store)."""
        self.database.write_one(
            f"INSERT OR REPLACE INTO {S.WORKFLOW_DATA} (app_key, workflow_id, data_key, "
            "data_value) VALUES (?, ?, ?, ?)",
            (
                self.rows.app_key,
                workflow_identity.workflow_id,
                key,
                self.app.client_data_store.serialize(value),
            ),
        )

    def get_workflow_data(
        self, workflow_identity: WorkflowIdentity, key: str, default: Any = None
    ) -> Any:
        """A value of a workflow run, or ``default``."""
        data = self._one(
            f"SELECT data_value FROM {S.WORKFLOW_DATA} "
            "WHERE app_key = ? AND workflow_id = ? AND data_key = ?",
            workflow_identity.workflow_id,
            key,
        )
        return default if data is None else self.app.client_data_store.deserialize(data)

    def store_workflow_sub_invocation(
        self, parent_workflow_id: str, sub_invocation_id: str
    ) -> None:
        """Record that an invocation ran inside a workflow run."""
        self.database.write_one(
            f"INSERT OR IGNORE INTO {S.WORKFLOW_SUB_INVOCATIONS} (app_key, workflow_id, "
            "sub_invocation_id) VALUES (?, ?, ?)",
            (self.rows.app_key, parent_workflow_id, sub_invocation_id),
        )

    def get_workflow_sub_invocations(self, workflow_id: InvocationId) -> Iterator[InvocationId]:
        """Invocations that ran inside a workflow run."""
        found = self.rows.fetch(
            f"SELECT sub_invocation_id FROM {S.WORKFLOW_SUB_INVOCATIONS} "
            "WHERE app_key = ? AND workflow_id = ?",
            (self.rows.app_key, workflow_id),
        )
        return iter(invocation_ids(found))

    # -- app info ---------------------------------------------------------------------
    def store_app_info(self, app_info: AppInfo) -> None:
        """Record what this app is (module, config), for monitoring tools."""
        self.database.write_one(
            f"INSERT OR REPLACE INTO {S.APP_INFO} (app_key, app_info) VALUES (?, ?)",
            (self.rows.app_key, app_info.to_json()),
        )

    def get_app_info(self) -> AppInfo:
        """:raises KeyError: this app stored no info."""
        data = self._one(f"SELECT app_info FROM {S.APP_INFO} WHERE app_key = ?")
        if data is None:
            raise KeyError(f"no app info stored for app {self.app.app_id!r}")
        return AppInfo.from_json(data)

    @staticmethod
    def discover_app_infos() -> dict[str, AppInfo]:
        """App info of every app in the file that the environment's configuration names.

        Read only: a missing file or one without app info gives ``{}``.
        """
        path = ConfigStateBackendPynencSQLite().sqlite_db_path
        if not path or not Path(path).exists():
            return {}
        uri = f"{Path(path).absolute().as_uri()}?mode=ro"
        with sqlite3.connect(uri, uri=True) as conn:
            try:
                found = conn.execute(
                    f"SELECT a.app_id, i.app_info FROM {S.APP_INFO} AS i "
                    f"JOIN {Tables.APPS} AS a USING (app_key)"
                ).fetchall()
            except sqlite3.OperationalError:  # not a pynenc-sqlite database
                return {}
        return {app_id: AppInfo.from_json(info) for app_id, info in found}

"""Deliberately broken copies of pynenc-sqlite's state backend, one per fault.

Each description (``HISTORY_REPLACED`` ...) is our stack in wal with one broken state
backend; :data:`CASES` names the suite modules to run and the exact clauses that must
fail.
"""

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pynenc.app_info import AppInfo
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.runner.runner_context import RunnerContext
from pynenc.state_backend.base_state_backend import InvocationHistory
from pynenc.workflow.workflow_identity import WorkflowIdentity

from adapters.broken import broken_component
from pynenc_contract import Component
from pynenc_sqlite import PynencSQLiteStateBackend
from pynenc_sqlite.schema import StateTables

S = StateTables
#: One microsecond: the time-range fault leaves the end of the range out by this much.
_MICROSECOND = timedelta(microseconds=1)


class HistoryReplacesEqualEntries(PynencSQLiteStateBackend):
    """Replaces an entry with the same time and status instead of appending (the
    pynenc-sqlite 0.1.0 history upsert)."""

    def add_histories_in(
        self,
        tx: sqlite3.Connection,
        invocation_ids: list[InvocationId],
        invocation_history: InvocationHistory,
    ) -> None:
        tx.executemany(
            f"DELETE FROM {S.HISTORY} WHERE app_key = ? AND invocation_id = ? AND ts = ? "
            "AND status = ?",
            [
                (
                    self.rows.app_key,
                    invocation_id,
                    invocation_history.timestamp.timestamp(),
                    invocation_history.status_record.status.value,
                )
                for invocation_id in invocation_ids
            ],
        )
        super().add_histories_in(tx, invocation_ids, invocation_history)


class FirstResultKept(PynencSQLiteStateBackend):
    """Keeps the first result of an invocation: a re-run's result is never read."""

    def _set_result(self, invocation_id: InvocationId, serialized_result: str) -> None:
        self.database.write_one(
            f"INSERT OR IGNORE INTO {S.RESULTS} (app_key, invocation_id, kind, data) "
            "VALUES (?, ?, 'result', ?)",
            (self.rows.app_key, invocation_id, serialized_result),
        )


class UpsertKeepsFirst(PynencSQLiteStateBackend):
    """Stores an invocation only the first time; later upserts change nothing."""

    def _upsert_invocations(self, entries: list[tuple[InvocationDTO, CallDTO]]) -> None:
        new = [(i, c) for i, c in entries if self._get_invocation(i.invocation_id) is None]
        super()._upsert_invocations(new)


class ChildrenByContainedId(PynencSQLiteStateBackend):
    """Finds children whose parent id contains the given id ("other-parent" for
    "parent")."""

    def get_child_invocations(self, parent_invocation_id: InvocationId) -> Iterator[InvocationId]:
        return self._invocations_where("instr(parent_invocation_id, ?) > 0", parent_invocation_id)


class TypeListedPerRun(PynencSQLiteStateBackend):
    """Lists a workflow type once per run of it."""

    def get_all_workflow_types(self) -> Iterator[Any]:
        return (run.workflow_type for run in self.get_all_workflow_runs())


class WorkflowDataByType(PynencSQLiteStateBackend):
    """Keys workflow data by the workflow's type: runs of one type share values."""

    def set_workflow_data(self, workflow_identity: WorkflowIdentity, key: str, value: Any) -> None:
        super().set_workflow_data(_by_type(workflow_identity), key, value)

    def get_workflow_data(
        self, workflow_identity: WorkflowIdentity, key: str, default: Any = None
    ) -> Any:
        return super().get_workflow_data(_by_type(workflow_identity), key, default)


def _by_type(workflow_identity: WorkflowIdentity) -> WorkflowIdentity:
    return WorkflowIdentity(
        InvocationId(workflow_identity.workflow_type.key), workflow_identity.workflow_type
    )


class WorkflowFiltersEitherMatch(PynencSQLiteStateBackend):
    """Given a workflow run and a type, returns invocations matching either."""

    def get_invocation_ids_by_workflow(
        self, workflow_id: str | None = None, workflow_type_key: str | None = None
    ) -> Iterator[InvocationId]:
        if workflow_id and workflow_type_key:
            return self._invocations_where(
                "(workflow_id = ? OR workflow_type = ?)", workflow_id, workflow_type_key
            )
        return super().get_invocation_ids_by_workflow(workflow_id, workflow_type_key)


class RunnerContextsWithoutParents(PynencSQLiteStateBackend):
    """Reads runner contexts without their parent chain."""

    def _runner_contexts_where(self, condition: str, *params: object) -> list[RunnerContext]:
        return [
            RunnerContext(
                runner_cls=ctx.runner_cls,
                runner_id=ctx.runner_id,
                pid=ctx.pid,
                hostname=ctx.hostname,
                thread_id=ctx.thread_id,
            )
            for ctx in super()._runner_contexts_where(condition, *params)
        ]


class TimeRangeEndExcluded(PynencSQLiteStateBackend):
    """Reads time ranges as [start, end): entries at the end are left out."""

    def iter_invocations_in_timerange(
        self, start_time: datetime, end_time: datetime, batch_size: int = 100
    ) -> Iterator[list[InvocationId]]:
        return super().iter_invocations_in_timerange(
            start_time, end_time - _MICROSECOND, batch_size
        )

    def iter_history_in_timerange(
        self, start_time: datetime, end_time: datetime, batch_size: int = 100
    ) -> Iterator[list[InvocationHistory]]:
        return super().iter_history_in_timerange(start_time, end_time - _MICROSECOND, batch_size)


class DiscoveryByModule(PynencSQLiteStateBackend):
    """Discovers apps keyed by their module: apps of one module hide each other."""

    @staticmethod
    def discover_app_infos() -> dict[str, AppInfo]:
        found = PynencSQLiteStateBackend.discover_app_infos().values()
        return {info.module: info for info in found}


class TimeRangeAcrossApps(PynencSQLiteStateBackend):
    """Reads the history of a time range without the app filter: every app's entries."""

    def iter_history_in_timerange(
        self, start_time: datetime, end_time: datetime, batch_size: int = 100
    ) -> Iterator[list[InvocationHistory]]:
        rows = self.rows.fetch(
            f"SELECT entry FROM {S.HISTORY} WHERE ts >= ? AND ts <= ? ORDER BY ts, seq",
            (start_time.timestamp(), end_time.timestamp()),
        )
        entries = [InvocationHistory.from_json(row[0]) for row in rows]
        for first in range(0, len(entries), batch_size):
            yield entries[first : first + batch_size]


class PurgeKeepsWorkflowData(PynencSQLiteStateBackend):
    """Purges everything of the app but its workflow data."""

    def purge(self) -> None:
        self.rows.delete_all([t for t in S.APP_SCOPED if t != S.WORKFLOW_DATA])
        self._runner_context_cache.clear()


class PurgeEveryApp(PynencSQLiteStateBackend):
    """Purges the state of every app in the file."""

    def purge(self) -> None:
        for table in S.APP_SCOPED:
            self.database.write_one(f"DELETE FROM {table}", ())
        self._runner_context_cache.clear()


class MatchingParameterRenamed(PynencSQLiteStateBackend):
    """Renames get_matching_runner_contexts's parameter: keyword callers break."""

    def get_matching_runner_contexts(self, text: str) -> Iterator[RunnerContext]:
        return super().get_matching_runner_contexts(text)


HISTORY_REPLACED = broken_component(Component.STATE_BACKEND, HistoryReplacesEqualEntries)
FIRST_RESULT = broken_component(Component.STATE_BACKEND, FirstResultKept)
UPSERT_KEEPS_FIRST = broken_component(Component.STATE_BACKEND, UpsertKeepsFirst)
CHILDREN_CONTAINED = broken_component(Component.STATE_BACKEND, ChildrenByContainedId)
TYPE_PER_RUN = broken_component(Component.STATE_BACKEND, TypeListedPerRun)
DATA_BY_TYPE = broken_component(Component.STATE_BACKEND, WorkflowDataByType)
EITHER_FILTER = broken_component(Component.STATE_BACKEND, WorkflowFiltersEitherMatch)
NO_PARENT_CONTEXT = broken_component(Component.STATE_BACKEND, RunnerContextsWithoutParents)
END_EXCLUDED = broken_component(Component.STATE_BACKEND, TimeRangeEndExcluded)
DISCOVERY_BY_MODULE = broken_component(Component.STATE_BACKEND, DiscoveryByModule)
RANGE_ACROSS_APPS = broken_component(Component.STATE_BACKEND, TimeRangeAcrossApps)
PURGE_KEEPS_DATA = broken_component(Component.STATE_BACKEND, PurgeKeepsWorkflowData)
PURGE_EVERY_APP = broken_component(Component.STATE_BACKEND, PurgeEveryApp)
PARAMETER_RENAMED = broken_component(Component.STATE_BACKEND, MatchingParameterRenamed)

_ROUND_TRIPS, _APPS = ["test_state_backend"], ["test_state_backend_isolation"]
#: Each description above: the suite modules to run, the clauses that must fail.
CASES: dict[str, tuple[list[str], set[str]]] = {
    "HISTORY_REPLACED": (_ROUND_TRIPS, {"STATE-2"}),
    "FIRST_RESULT": (_ROUND_TRIPS, {"STATE-3"}),
    "UPSERT_KEEPS_FIRST": (_ROUND_TRIPS, {"STATE-4"}),
    "CHILDREN_CONTAINED": (_ROUND_TRIPS, {"STATE-5"}),
    "TYPE_PER_RUN": (_ROUND_TRIPS, {"STATE-6"}),
    "DATA_BY_TYPE": (_ROUND_TRIPS, {"STATE-7"}),
    "EITHER_FILTER": (_ROUND_TRIPS, {"STATE-8"}),
    "NO_PARENT_CONTEXT": (_ROUND_TRIPS, {"STATE-9"}),
    "END_EXCLUDED": (_ROUND_TRIPS, {"STATE-10"}),
    "DISCOVERY_BY_MODULE": (_ROUND_TRIPS, {"STATE-11"}),
    # A purged app then reads the other app's entries: the purge test sees it too.
    "RANGE_ACROSS_APPS": (_APPS, {"STATE-12", "STATE-13"}),
    "PURGE_KEEPS_DATA": (_APPS, {"STATE-13"}),
    "PURGE_EVERY_APP": (_APPS, {"STATE-13"}),
    "PARAMETER_RENAMED": (_ROUND_TRIPS, {"STATE-1"}),
}
#: Clauses the whole suite finds broken where they reach beyond the copy's modules.
WHOLE_SUITE: dict[str, set[str]] = {
    # Runs of one type share their data in the isolation and purge tests too.
    "DATA_BY_TYPE": {"STATE-7", "STATE-12", "STATE-13"},
    # The other app's results go with the purge.
    "PURGE_EVERY_APP": {"STATE-13", "ACROSS-1"},
}

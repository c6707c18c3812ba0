"""Deliberately broken copies of pynenc-sqlite's orchestrator, one per fault, and
:func:`broken_component`, which the broken copies of its other components use
(``adapters/broken_<kind>.py``).

The contract must catch each (``contract_tests/tests/test_broken_backends.py``), and
the scenarios must catch the claim that is not atomic (``CLAIM``, whose scenario
failures are listed as known: it fails on purpose).
"""

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pynenc import Pynenc
from pynenc.call import Call
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    status_record_transition,
)
from pynenc.orchestrator.atomic_service import AtomicServiceExecutionStatus
from pynenc.orchestrator.base_orchestrator import BaseOrchestrator
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract import BackendDescription, Component, KnownFailure
from pynenc_contract.backend import layer_settings
from pynenc_sqlite import PynencSQLiteOrchestrator, Tables
from pynenc_sqlite.contract import STACK_WAL, WAL
from pynenc_sqlite.orchestrator.atomic_service import AtomicServiceLog


class PagesByLastChange(PynencSQLiteOrchestrator):
    """Orders pages by the last status change, as pynenc's own backends do."""

    def get_invocation_ids_paginated(
        self,
        task_id: TaskId | None = None,
        statuses: list[InvocationStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InvocationId]:
        where, params = self.registration.where(task_id, statuses)
        rows = self.rows.fetch(
            f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE {where} "
            "ORDER BY status_time DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [InvocationId(row[0]) for row in rows]


#: Pause between a claim's read and its write: another process interleaves there.
CLAIM_DELAY_SECONDS = 0.02


class ClaimOutsideTransaction(PynencSQLiteOrchestrator):
    """Reads and validates outside the write transaction (the pynenc-redis pattern), then
    pauses, so that two runners both read REGISTERED and both claim."""

    def _atomic_status_transition(
        self, invocation_id: InvocationId, status: InvocationStatus, runner_id: str | None = None
    ) -> InvocationStatusRecord:
        current = self.get_invocation_status_record(invocation_id)
        new_record = status_record_transition(current, status, runner_id)
        time.sleep(CLAIM_DELAY_SECONDS)
        self.database.write_one(
            f"UPDATE {Tables.INVOCATIONS} SET status = ?, owner_id = ?, status_time = ? "
            "WHERE app_key = ? AND invocation_id = ?",
            (
                new_record.status.value,
                new_record.runner_id,
                new_record.timestamp.timestamp(),
                self.app_key,
                invocation_id,
            ),
        )
        return new_record


class ReleaseDoesNothing(PynencSQLiteOrchestrator):
    """Its blocking control never releases waiters."""

    def __init__(self, app: Pynenc) -> None:
        super().__init__(app)
        self._blocking_control.release_waiters = lambda waited_invocation_id: None  # type: ignore[method-assign]


class ForgetsOwner(PynencSQLiteOrchestrator):
    """Stores every new status without its owner."""

    def _atomic_status_transition(
        self, invocation_id: InvocationId, status: InvocationStatus, runner_id: str | None = None
    ) -> InvocationStatusRecord:
        record = super()._atomic_status_transition(invocation_id, status, runner_id)
        self.database.write_one(
            f"UPDATE {Tables.INVOCATIONS} SET owner_id = NULL "
            "WHERE app_key = ? AND invocation_id = ?",
            (self.app_key, invocation_id),
        )
        return record


class RunningCheckedApart(PynencSQLiteOrchestrator):
    """Writes RUNNING without checking running concurrency in the same transaction, as
    pynenc's base class does (pynenc-3): racers that all passed the check all run."""

    def set_invocation_status(
        self, invocation_id: InvocationId, status: InvocationStatus, runner_ctx: RunnerContext
    ) -> None:
        BaseOrchestrator.set_invocation_status(self, invocation_id, status, runner_ctx)


#: Pause between route_call's look-up and its registration: another process routes there.
ROUTE_DELAY_SECONDS = 0.05


class RouteInSteps(PynencSQLiteOrchestrator):
    """Routes a call as pynenc's base class does (pynenc-8): look up, then register and
    index in later calls, after a pause."""

    route_call = BaseOrchestrator.route_call

    def _route_new_call_invocation(
        self, call: Call[Any, Any], runner_id: str | None = None
    ) -> DistributedInvocation[Any, Any]:
        time.sleep(ROUTE_DELAY_SECONDS)
        return super()._route_new_call_invocation(call, runner_id)


class _LogKeepingDeadHolders(AtomicServiceLog):
    def _current_running(
        self, tx: sqlite3.Connection, now: float, dead_after_seconds: float
    ) -> tuple[str, str] | None:
        row = tx.execute(
            f"SELECT run_id, runner_id FROM {Tables.ATOMIC_SERVICE_EXECUTIONS} "
            "WHERE app_key = ? AND status = ?",
            (self.rows.app_key, AtomicServiceExecutionStatus.RUNNING.value),
        ).fetchone()
        return None if row is None else (row[0], row[1])


class DeadHolderKeepsService(PynencSQLiteOrchestrator):
    """Never expires a RUNNING atomic-service record, whoever holds it (pynenc-4)."""

    def __init__(self, app: Pynenc) -> None:
        super().__init__(app)
        self.atomic_service = _LogKeepingDeadHolders(self.rows)


class PurgeKeepsRunners(PynencSQLiteOrchestrator):
    """Purges everything of the app except its runner heartbeats."""

    def purge(self) -> None:
        self.rows.delete_all([t for t in Tables.APP_SCOPED if t != Tables.RUNNER_HEARTBEATS])


class TaskLookupAcrossApps(PynencSQLiteOrchestrator):
    """Looks up a task's invocations without the app filter: another app's with the same
    task id come back too."""

    def get_task_invocation_ids(self, task_id: TaskId) -> Iterator[InvocationId]:
        rows = self.rows.fetch(
            f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE task_id = ?",
            (task_id.key,),
        )
        yield from (InvocationId(row[0]) for row in rows)


class OutcomeBeforeStatus(PynencSQLiteOrchestrator):
    """Stores a result or exception before it changes the status, as pynenc's
    BaseOrchestrator does (pynenc-16): a former owner overwrites the new one's result."""

    set_invocation_result = BaseOrchestrator.set_invocation_result
    set_invocation_exception = BaseOrchestrator.set_invocation_exception


def _backend(
    cls: type[PynencSQLiteOrchestrator], known_failures: dict[str, KnownFailure] | None = None
) -> BackendDescription:
    def build_app(app_id: str, workdir: Path) -> Pynenc:
        """Ours in wal, with this class selected instead."""
        app = WAL.build_app(app_id, workdir)
        layer_settings(app, {"orchestrator_cls": cls.__name__})
        return app

    return replace(
        WAL,
        name=f"broken: {cls.__name__}",
        orchestrator_class=cls,
        build_app=build_app,
        known_failures=known_failures or {},
    )


def broken_component(kind: Component, cls: type) -> BackendDescription:
    """Our stack in wal with ``cls`` (a broken copy of one of its components, its name
    unique among pynenc's classes) as its ``kind`` of component."""

    def build_app(app_id: str, workdir: Path) -> Pynenc:
        app = STACK_WAL.build_app(app_id, workdir)
        layer_settings(app, {kind.setting: cls.__name__})
        return app

    return replace(
        STACK_WAL,
        name=f"broken: {cls.__name__}",
        build_app=build_app,
        components={**STACK_WAL.components, kind: cls},
        known_failures={},
    )


CLAIMED_TWICE = KnownFailure(
    "broken on purpose",
    "ClaimOutsideTransaction reads, pauses and writes outside one transaction: two "
    "runners claim the same invocation and run its body twice",
    "pynenc-scenarios scenario fanout --quick --runner ThreadRunner "
    "--backend adapters.broken:CLAIM",
)

PAGES = _backend(PagesByLastChange)
CLAIM = _backend(
    ClaimOutsideTransaction,
    {
        # ProcessRunner and PersistentProcessRunner deadlock in the fan-out before any
        # claim can race (pynenc-1a/1b): the double claims show on the thread runners.
        f"fanout/{runner}: {check}": CLAIMED_TWICE
        for runner in ("TR", "MTR")
        for check in ("no body ran more than once", "histories replay under pynenc's status rules")
    },
)
RELEASE = _backend(ReleaseDoesNothing)
OWNER = _backend(ForgetsOwner)
RUNNING = _backend(RunningCheckedApart)
ROUTE = _backend(RouteInSteps)
DEAD_HOLDER = _backend(DeadHolderKeepsService)
PURGE_RUNNERS = _backend(PurgeKeepsRunners)
TASK_LOOKUP = _backend(TaskLookupAcrossApps)
OUTCOME_FIRST = _backend(OutcomeBeforeStatus)

#: Ours, with a known failure on a test that passes: the run must say it passes now.
ALREADY_FIXED = replace(
    WAL,
    name="already fixed",
    known_failures={
        "test_lookups.py::test_filter_by_status": KnownFailure("fixed-1", "was fixed long ago")
    },
)

#: Each description above: the suite modules to run, the clauses that must fail.
CASES: dict[str, tuple[list[str], set[str]]] = {
    "PAGES": (["test_lookups"], {"PAGE-1", "PAGE-2"}),
    "CLAIM": (["test_concurrency"], {"ATOM-1", "ATOM-2"}),
    "RELEASE": (["test_blocking"], {"BLOCK-3"}),
    "OWNER": (["test_transitions"], {"TRANS-1", "TRANS-2", "TRANS-3", "TRANS-4"}),
    "RUNNING": (["test_concurrency_control"], {"CC-1", "CC-2"}),
    "ROUTE": (["test_concurrency_control"], {"CC-3"}),
    "DEAD_HOLDER": (["test_atomic_service"], {"AS-6"}),
    "PURGE_RUNNERS": (["test_purge"], {"PURGE-3"}),
    "TASK_LOOKUP": (["test_isolation", "test_lookups"], {"ISO-1"}),
    "OUTCOME_FIRST": (["test_runners"], {"REC-3"}),
}
#: Clauses the whole suite finds broken where they reach beyond the copy's modules.
WHOLE_SUITE: dict[str, set[str]] = {
    "RELEASE": {"BLOCK-3", "MODEL-1"},
    # Every walk through an owned status breaks when the owner is forgotten.
    "OWNER": {
        *("REG-2", "TRANS-1", "TRANS-2", "TRANS-3", "TRANS-4", "ATOM-1", "ATOM-2"),
        *("CC-1", "CC-2", "QUERY-1", "PAGE-1", "FILTER-1", "BLOCK-2", "PURGE-1", "ISO-1"),
        *("REC-2", "REC-3", "MODEL-1", "FLOW-2"),
    },
}

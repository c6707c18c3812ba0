"""What the benchmark measures, opened the same way in the benchmark process and in its workers.

A subject is either a pynenc backend, given by the spec of its description
(``--backend sqlite-wal=pynenc_sqlite.contract:WAL``, the spec the contract and the
scenarios take), or the bare-sqlite3 floor in one journal mode (``--bare wal``).
Both open into a :class:`Handle`: a pynenc app, the benchmark task and the
orchestrator under test.
"""

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.builder import PynencBuilder
from pynenc.call import Call
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    status_record_transition,
)
from pynenc.orchestrator.sqlite_orchestrator import SQLiteOrchestrator
from pynenc.task import Task

from pynenc_bench import tasks as bench_tasks
from pynenc_contract.backend import BackendDescription, Capability, load_backend

JOURNAL_MODES = ("wal", "delete", "truncate", "persist", "memory")
#: Settings layered over every benchmarked app: the benchmark's calls only, no logs.
QUIET = {"logging_level": "error"}


class Subject(Protocol):
    """Something the benchmark measures; picklable, so workers open exactly the same one."""

    @property
    def label(self) -> str: ...

    @property
    def ops(self) -> frozenset[str] | None:
        """Operations it offers; ``None`` means all of them."""
        ...

    def open(self, workdir: Path, app_id: str) -> "Handle":
        """Build the app (or attach to its existing store) in this process.

        Apps opened with the same ``app_id`` share their store; each app id has its
        own directory, so that a repetition never measures an earlier one's rows.
        """
        ...


@dataclass(frozen=True)
class BackendInfo:
    """A described backend as the report shows it."""

    name: str
    spec: str
    #: ``module.QualifiedName`` of its orchestrator class.
    orchestrator: str
    #: Whether several OS processes can share it (the scale and e2e phases need that).
    cross_process: bool
    #: Whether it is pynenc's built-in SQLite orchestrator (the reference of the ratios).
    builtin: bool


@dataclass(frozen=True)
class DescribedBackend:
    """A pynenc backend, built from its :class:`BackendDescription`."""

    label: str
    spec: str
    ops: frozenset[str] | None = None

    @classmethod
    def parse(cls, argument: str) -> "DescribedBackend":
        """``ID=module:attribute``, or ``module:attribute`` labelled by its attribute."""
        label, _, spec = argument.rpartition("=")
        return cls(label or spec.rpartition(":")[2].lower(), spec)

    def description(self) -> BackendDescription:
        return load_backend(self.spec)

    def info(self) -> BackendInfo:
        description = self.description()
        cls = description.orchestrator_class
        return BackendInfo(
            name=description.name,
            spec=self.spec,
            orchestrator=f"{cls.__module__}.{cls.__qualname__}",
            cross_process=Capability.CROSS_PROCESS in description.capabilities,
            builtin=cls is SQLiteOrchestrator,
        )

    def open(self, workdir: Path, app_id: str) -> "Handle":
        app = self.description().new_app(app_id, _directory(workdir, app_id), QUIET)
        return Handle(app, app.task(bench_tasks.add), app.orchestrator)


@dataclass(frozen=True)
class BareSQLite:
    """The floor: one kept sqlite3 connection doing a transition's minimum work
    (see :class:`BareSQLiteOrchestrator`), beside an in-memory app for invocations."""

    journal_mode: str
    #: Operations the bare reference implements (the others are "n/a").
    ops: frozenset[str] = frozenset({"register_one", "register_batch", "transition", "get_status"})

    @property
    def label(self) -> str:
        return f"bare-{self.journal_mode}"

    def open(self, workdir: Path, app_id: str) -> "Handle":
        app = PynencBuilder().app_id(app_id).memory().logging_level("error").build()
        path = _directory(workdir, app_id) / "bare.sqlite3"
        orchestrator = BareSQLiteOrchestrator(path, self.journal_mode)
        return Handle(app, app.task(bench_tasks.add), orchestrator)


def _directory(workdir: Path, app_id: str) -> Path:
    directory = workdir / app_id
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@dataclass
class Handle:
    """An opened subject: the app, the benchmark task and the orchestrator under test."""

    app: Pynenc
    task: Task[Any, Any]
    orchestrator: Any
    _next_x: int = field(default=0)

    def invocations(self, count: int) -> list[DistributedInvocation[Any, Any]]:
        """New invocations of the task with distinct arguments (not registered)."""
        first, self._next_x = self._next_x, self._next_x + count
        return [
            DistributedInvocation.isolated(Call(self.task, Arguments({"x": x})))
            for x in range(first, first + count)
        ]

    def close(self) -> None:
        """Release connections this process holds (best effort)."""
        close = getattr(self.orchestrator, "close", None)
        if callable(close):
            close()
        client = getattr(self.orchestrator, "_client", None)
        if client is not None:
            client.close()


class BareSQLiteOrchestrator:
    """The reference: one kept connection doing a transition's minimum work.

    Same journal mode and ``synchronous=NORMAL`` as ours, the same columns and
    status-bearing indexes, and the same pynenc validation; a transition is
    ``BEGIN IMMEDIATE``, ``SELECT``, validate, ``UPDATE``, ``COMMIT``.
    """

    def __init__(self, path: Path, journal_mode: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self.conn.execute(f"PRAGMA journal_mode={journal_mode}")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(
            """CREATE TABLE IF NOT EXISTS invocations (
                   invocation_id TEXT PRIMARY KEY, task_id TEXT NOT NULL,
                   call_id TEXT NOT NULL, status TEXT NOT NULL, owner_id TEXT,
                   status_time REAL NOT NULL, registered_time REAL NOT NULL);
               CREATE INDEX IF NOT EXISTS invocations_task
                   ON invocations(task_id, status, registered_time);
               CREATE INDEX IF NOT EXISTS invocations_status
                   ON invocations(status, status_time);"""
        )

    def _register_new_invocations(
        self, invocations: Sequence[DistributedInvocation[Any, Any]], runner_id: str | None
    ) -> None:
        now = time.time()
        rows = [
            (inv.invocation_id, inv.task.task_id.key, inv.call.call_id.key, runner_id, now, now)
            for inv in invocations
        ]
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(
            "INSERT INTO invocations VALUES (?, ?, ?, 'registered', ?, ?, ?) "
            "ON CONFLICT (invocation_id) DO NOTHING",
            rows,
        )
        self.conn.execute("COMMIT")

    def _atomic_status_transition(
        self, invocation_id: str, status: InvocationStatus, runner_id: str | None
    ) -> InvocationStatusRecord:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            current, owner = conn.execute(
                "SELECT status, owner_id FROM invocations WHERE invocation_id = ?",
                (invocation_id,),
            ).fetchone()
            record = status_record_transition(
                InvocationStatusRecord(InvocationStatus(current), owner), status, runner_id
            )
            conn.execute(
                "UPDATE invocations SET status = ?, owner_id = ?, status_time = ? "
                "WHERE invocation_id = ?",
                (
                    record.status.value,
                    record.runner_id,
                    record.timestamp.timestamp(),
                    invocation_id,
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return record

    def get_invocation_status(self, invocation_id: str) -> InvocationStatus:
        (status,) = self.conn.execute(
            "SELECT status FROM invocations WHERE invocation_id = ?", (invocation_id,)
        ).fetchone()
        return InvocationStatus(status)

    def close(self) -> None:
        self.conn.close()

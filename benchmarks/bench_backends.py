"""Backends under test, opened the same way in the benchmark process and in its workers.

Every backend is reached through one interface: a :class:`Handle` holding a
pynenc app (memory components), the benchmark task and an orchestrator. For
pynenc backends that is ``app.orchestrator``; for the bare-sqlite3 reference it
is :class:`BareSQLiteOrchestrator`, which implements the few orchestrator
methods it is compared on.
"""

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bench_tasks
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
from pynenc.task import Task

Family = Literal["ours", "builtin", "mem", "redis", "bare"]
JOURNAL_MODES = ("wal", "delete", "truncate", "persist", "memory")
#: Operations the bare-sqlite3 reference implements (the others are "n/a").
BARE_OPS = frozenset({"register_one", "register_batch", "transition", "get_status"})


@dataclass(frozen=True)
class Environment:
    """Where backends keep their data: a scratch directory and the redis URL, if any."""

    workdir: Path
    redis_url: str | None = None


@dataclass(frozen=True)
class BackendSpec:
    """One backend configuration; picklable, so workers open exactly the same one."""

    name: str
    family: Family
    journal_mode: str | None = None

    @property
    def ops(self) -> frozenset[str] | None:
        """Operations this backend offers; ``None`` means all of them."""
        return BARE_OPS if self.family == "bare" else None

    def open(self, env: Environment, app_id: str) -> "Handle":
        """Build the app (or attach to its existing store) in this process."""
        path = env.workdir / f"{app_id}.sqlite3"
        builder = PynencBuilder().app_id(app_id).memory().logging_level("error")
        if self.family == "ours":
            builder = builder.sqlite_orchestrator(
                str(path), journal_mode=self.journal_mode, synchronous="normal"
            )
        elif self.family == "builtin":
            builder = builder.custom_config(
                orchestrator_cls="SQLiteOrchestrator", sqlite_db_path=str(path)
            )
        elif self.family == "redis":
            if env.redis_url is None:
                raise RuntimeError("redis-server is not running")
            builder = builder.custom_config(
                orchestrator_cls="RedisOrchestrator", redis_url=env.redis_url
            )
        app = builder.build()
        task = app.task(bench_tasks.add)
        orchestrator: Any
        if self.family == "bare":
            orchestrator = BareSQLiteOrchestrator(path, self.journal_mode or "wal")
        else:
            orchestrator = app.orchestrator
        return Handle(self, app, task, orchestrator)


def all_specs() -> list[BackendSpec]:
    """Ours in every journal mode, pynenc's built-ins, pynenc-redis, bare sqlite3."""
    ours = [BackendSpec(f"ours-{mode}", "ours", mode) for mode in JOURNAL_MODES]
    bare = [BackendSpec(f"bare-{mode}", "bare", mode) for mode in JOURNAL_MODES]
    others = [
        BackendSpec("builtin", "builtin", "wal"),
        BackendSpec("mem", "mem"),
        BackendSpec("redis", "redis"),
    ]
    return [*ours, *others, *bare]


@dataclass
class Handle:
    """An opened backend: the app, the benchmark task and the orchestrator under test."""

    spec: BackendSpec
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

"""Query plans of our orchestrator's hot queries, on databases created by the package.

Each hot call runs on a database with few and with ten times more stored
invocations; the statements it executes are captured with
``set_trace_callback`` and explained with ``EXPLAIN QUERY PLAN``.

* ``test_hot_query_uses_an_index`` (must pass): no orchestrator table is read by
  a full table scan.
* ``test_hot_query_work_does_not_grow`` compares the SQLite VM instructions of a
  call on both databases (ten times the invocations, waiting edges and
  matches of the task look-ups).
"""

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus

from pynenc_bench import tasks as bench_tasks
from pynenc_sqlite.conf.config_orchestrator import CONFIG_SECTION
from pynenc_sqlite.contract import WAL

REGISTERED = [InvocationStatus.REGISTERED]
QUEUED_OR_RUNNING = [InvocationStatus.PENDING, InvocationStatus.RUNNING]
WALK = (InvocationStatus.PENDING, InvocationStatus.RUNNING, InvocationStatus.SUCCESS)
SMALL, LARGE = 300, 3000
#: Allowed growth of VM instructions from SMALL to LARGE stored invocations (10x rows).
MAX_WORK_GROWTH = 2.0


@dataclass
class Store:
    """An orchestrator of our package with ``size`` stored invocations."""

    orchestrator: Any
    task: Any
    invocations: list[DistributedInvocation[Any, Any]]

    @property
    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = self.orchestrator.database.connection()
        return connection

    def ids(self, first: int, last: int) -> list[str]:
        return [inv.invocation_id for inv in self.invocations[first:last]]


def _store(directory: Path, size: int) -> Store:
    """``size`` indexed invocations: 10 PENDING, 10 RUNNING, then half REGISTERED and
    half SUCCESS, except the newest ``size // 10``, PENDING (so that the matches of
    task look-ups grow with the store); ``size // 10`` SUCCESS invocations wait on
    REGISTERED ones."""
    app = WAL.new_app(
        f"plans-{size}",
        directory,
        {CONFIG_SECTION: {"sqlite_db_path": str(directory / f"plans-{size}.sqlite3")}},
    )
    task = app.task(bench_tasks.add)
    invocations = [
        DistributedInvocation.isolated(Call(task, Arguments({"x": x}))) for x in range(size)
    ]
    orchestrator = app.orchestrator
    orchestrator._register_new_invocations(invocations, "runner-a")
    for invocation in invocations:
        orchestrator.index_arguments_for_concurrency_control(invocation)
    finished, newest = 20 + size // 2, size - size // 10
    for position, invocation in enumerate(invocations):
        pending = position < 10 or position >= newest
        walk = WALK[:1] if pending else WALK[:2] if position < 20 else WALK
        for status in walk if position < 20 or position >= finished else ():
            orchestrator._atomic_status_transition(invocation.invocation_id, status, "runner-a")
    edges = size // 10
    for waiter, waited in zip(
        invocations[finished : finished + edges], invocations[20 : 20 + edges], strict=True
    ):
        orchestrator.waiting_for_results(waiter.invocation_id, [waited.invocation_id])
    orchestrator.register_runner_heartbeats(["runner-a"], consumed_queues=["default"])
    return Store(orchestrator, task, invocations)


HOT_CALLS: dict[str, Callable[[Store], object]] = {
    "status_read": lambda s: s.orchestrator.get_invocation_status_record(s.ids(150, 151)[0]),
    "transition": lambda s: s.orchestrator._atomic_status_transition(
        s.ids(151, 152)[0], InvocationStatus.PENDING, "runner-b"
    ),
    "existing_args_registered": lambda s: next(
        s.orchestrator.get_existing_invocations(
            s.task, s.invocations[152].call.serialized_arguments, REGISTERED
        ),
        None,
    ),
    "existing_args_running": lambda s: next(
        s.orchestrator.get_existing_invocations(
            s.task, s.invocations[15].call.serialized_arguments, QUEUED_OR_RUNNING
        ),
        None,
    ),
    "existing_task_running": lambda s: next(
        s.orchestrator.get_existing_invocations(s.task, None, QUEUED_OR_RUNNING), None
    ),
    "existing_task_registered": lambda s: next(
        s.orchestrator.get_existing_invocations(s.task, None, REGISTERED), None
    ),
    "filter_by_status": lambda s: s.orchestrator.filter_by_status(
        s.ids(100, 150), InvocationStatus.get_final_statuses()
    ),
    "blocking": lambda s: list(s.orchestrator.get_blocking_invocations(10)),
    "release_waiters": lambda s: s.orchestrator.release_waiters(s.ids(30, 31)[0]),
    "pagination": lambda s: s.orchestrator.get_invocation_ids_paginated(limit=50, offset=100),
    "pagination_task_status": lambda s: s.orchestrator.get_invocation_ids_paginated(
        task_id=s.task.task_id, statuses=REGISTERED, limit=50, offset=100
    ),
    "recovery_pending": lambda s: list(s.orchestrator.get_pending_invocations_for_recovery()),
    "recovery_running": lambda s: list(s.orchestrator.get_running_invocations_for_recovery()),
    "active_runners": lambda s: s.orchestrator.get_active_runners(),
}


@dataclass
class Observed:
    """The queries one call executed, their plans and the VM instructions they took."""

    plans: dict[str, list[str]]
    instructions: int


def _observe(store: Store, call: Callable[[Store], object]) -> Observed:
    connection = store.connection
    statements: list[str] = []
    counter = [0]

    def count() -> int:
        counter[0] += 1
        return 0

    connection.set_trace_callback(statements.append)
    connection.set_progress_handler(count, 1)
    try:
        call(store)
    finally:
        connection.set_trace_callback(None)
        connection.set_progress_handler(None, 1)
    queries = [
        s
        for s in statements
        if "orchestrator_" in s and s.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
    ]
    return Observed({query: explain(connection, query) for query in queries}, counter[0])


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Store]]:
    """The SMALL and the LARGE database."""
    directory = tmp_path_factory.mktemp("plans")
    created = [_store(directory, SMALL), _store(directory, LARGE)]
    yield created
    for store in created:
        store.orchestrator.close()


@pytest.fixture(scope="module")
def observed(stores: list[Store]) -> dict[str, list[Observed]]:
    """Each hot call observed on the SMALL and on the LARGE database."""
    return {name: [_observe(store, call) for store in stores] for name, call in HOT_CALLS.items()}


def explain(connection: sqlite3.Connection, statement: str) -> list[str]:
    """The EXPLAIN QUERY PLAN lines of one statement."""
    return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}")]


def full_scans(statement: str, plan: list[str]) -> list[str]:
    """Plan lines that read an orchestrator table (or its alias) without any index."""
    names = {name: name for name in re.findall(r"\b(orchestrator_\w+)", statement)}
    for table, alias in re.findall(r"\b(orchestrator_\w+)\s+(?:AS\s+)?(\w+)", statement, re.I):
        if alias.upper() not in {"WHERE", "ON", "SET", "JOIN", "VALUES", "ORDER", "GROUP"}:
            names[alias] = table
    scans = []
    for line in plan:
        match = re.match(r"SCAN (\w+)", line)
        if match and match.group(1) in names and " USING " not in line:
            scans.append(line)
    return scans


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT seq FROM orchestrator_invocations WHERE retries = 1",
        "SELECT i.seq FROM orchestrator_invocations AS i WHERE i.retries = 1",
    ],
)
def test_full_scan_is_detected(stores: list[Store], statement: str) -> None:
    """The check below is not vacuous: an unindexed filter is reported."""
    assert full_scans(statement, explain(stores[0].connection, statement))


@pytest.mark.parametrize("name", HOT_CALLS)
def test_hot_query_uses_an_index(observed: dict[str, list[Observed]], name: str) -> None:
    plans = observed[name][1].plans
    assert plans, f"{name} ran no query on the orchestrator tables"
    for statement, plan in plans.items():
        assert not full_scans(statement, plan), f"{statement}\n" + "\n".join(plan)


@pytest.mark.parametrize("name", HOT_CALLS)
def test_hot_query_work_does_not_grow(observed: dict[str, list[Observed]], name: str) -> None:
    small, large = observed[name]
    growth = large.instructions / max(small.instructions, 1)
    assert growth <= MAX_WORK_GROWTH, (
        f"{name}: {small.instructions} VM instructions with {SMALL} stored invocations, "
        f"{large.instructions} with {LARGE} ({growth:.1f}x)"
    )

"""Sustained load: 16 processes on one database for a minute, a reader holding transactions."""

import multiprocessing
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import JOURNAL_MODE, build_app
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit
from pynenc_sqlite import PynencSQLiteOrchestrator

pytestmark = pytest.mark.slow

PROCESSES = int(os.environ.get("PYNENC_SQLITE_SOAK_PROCESSES", "16"))
SECONDS = float(os.environ.get("PYNENC_SQLITE_SOAK_SECONDS", "60"))
#: The WAL may not outgrow this while readers keep transactions open.
WAL_BOUND_BYTES = 64 * 1024 * 1024
WALK = (InvocationStatus.PENDING, InvocationStatus.RUNNING, InvocationStatus.SUCCESS)


@dataclass
class WorkerResult:
    """What one hammering process did."""

    operations: int = 0
    completed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _hammer(workdir: str, index: int, start_at: float, results: Any) -> None:
    """Register, walk to SUCCESS, heartbeat and look up until the time is up."""
    app = build_app(Path(workdir), app_id="soak")
    orchestrator = app.orchestrator
    result = WorkerResult()
    runner = f"soak-{index}"
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < start_at + SECONDS:
        try:
            ids = kit.registered(app, 5)
            for invocation_id in ids:
                for status in WALK:
                    orchestrator._atomic_status_transition(invocation_id, status, runner)
            orchestrator.register_runner_heartbeats([runner])
            orchestrator.filter_by_status(ids, frozenset({InvocationStatus.SUCCESS}))
            orchestrator.get_invocation_ids_paginated(limit=20)
            result.operations += 1 + len(ids) * len(WALK) + 3
            result.completed += ids
        except Exception as error:  # every error reaching a caller is reported
            result.errors.append(f"{type(error).__name__}: {error}")
    results.put(result)


def _reader(db: Path, stop: threading.Event, hold_seconds: float) -> None:
    """Keep read transactions open, one after another with a short pause, as a monitoring
    tool would. (One snapshot held for the whole minute would pin every WAL frame written
    after it: no checkpoint can rewind a WAL a reader still uses.)"""
    connection = sqlite3.connect(db, isolation_level=None)
    while not stop.is_set():
        connection.execute("BEGIN")
        connection.execute("SELECT COUNT(*) FROM orchestrator_invocations").fetchone()
        stop.wait(hold_seconds)
        connection.execute("COMMIT")
        stop.wait(hold_seconds / 10)
    connection.close()


@pytest.mark.timeout(SECONDS * 4 + 300)
def test_sixteen_processes_for_a_minute_lose_nothing_and_the_wal_stays_bounded(
    tmp_path: Path,
) -> None:
    app = build_app(tmp_path, app_id="soak")
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    db = Path(orchestrator.sqlite_db_path)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 5 + PROCESSES * 0.5  # after every process imported pynenc
    processes = [
        context.Process(target=_hammer, args=(str(tmp_path), i, start_at, results))
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    stop = threading.Event()
    reader = threading.Thread(target=_reader, args=(db, stop, 0.5))
    wal = db.with_name(db.name + "-wal")
    largest_wal = 0
    try:
        while time.time() < start_at:
            time.sleep(0.1)
        reader.start()
        while time.time() < start_at + SECONDS:
            largest_wal = max(largest_wal, wal.stat().st_size if wal.exists() else 0)
            time.sleep(0.2)
        worker_results: list[WorkerResult] = [results.get(timeout=120) for _ in processes]
    finally:
        stop.set()
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
        if reader.is_alive():
            reader.join(10)
    errors = [error for result in worker_results for error in result.errors]
    assert errors == [], f"{len(errors)} errors reached callers, first: {errors[:3]}"
    completed = [i for result in worker_results for i in result.completed]
    assert orchestrator.count_invocations() == len(completed)
    assert orchestrator.count_invocations(statuses=[InvocationStatus.SUCCESS]) == len(completed)
    operations = sum(result.operations for result in worker_results)
    print(
        f"\nsoak {JOURNAL_MODE}: {PROCESSES} processes x {SECONDS:g}s, {operations} operations "
        f"({operations / SECONDS:.0f}/s), {len(completed)} invocations, 0 errors, "
        f"largest WAL {largest_wal / 1e6:.1f} MB"
    )
    if JOURNAL_MODE == "wal":
        assert 0 < largest_wal <= WAL_BOUND_BYTES

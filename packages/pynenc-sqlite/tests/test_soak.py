"""Sustained load: 16 processes on one database for a minute, a reader holding transactions.

In WAL mode the reader holds a read transaction 91% of the time (0.5 s, then a 0.05 s
pause). In the rollback modes every commit waits for every reader to leave, so such a
reader is past what they can serve (the guide's Limits give the measurements): there
it holds 50% of the time (0.05 s, then 0.05 s). ``PYNENC_SQLITE_SOAK_READER="HOLD,PAUSE"``
sets other values, for example to measure that limit again.
"""

import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from pynenc.invocation.status import InvocationStatus

from conftest import JOURNAL_MODE, build_app
from pynenc_contract import kit
from pynenc_contract.workers import BARRIER_TIMEOUT_SECONDS, run_workers
from pynenc_sqlite import PynencSQLiteOrchestrator

pytestmark = pytest.mark.slow

PROCESSES = int(os.environ.get("PYNENC_SQLITE_SOAK_PROCESSES", "16"))
SECONDS = float(os.environ.get("PYNENC_SQLITE_SOAK_SECONDS", "60"))
#: The WAL may not outgrow this while readers keep transactions open.
WAL_BOUND_BYTES = 64 * 1024 * 1024
WALK = (InvocationStatus.PENDING, InvocationStatus.RUNNING, InvocationStatus.SUCCESS)
READER_HOLD_SECONDS, READER_PAUSE_SECONDS = (
    float(seconds)
    for seconds in os.environ.get(
        "PYNENC_SQLITE_SOAK_READER", "0.5,0.05" if JOURNAL_MODE == "wal" else "0.05,0.05"
    ).split(",")
)


@dataclass
class WorkerResult:
    """What one hammering process did."""

    operations: int = 0
    completed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _hammer(job: tuple[str, int], barrier: Barrier) -> WorkerResult:
    """Once every process is ready: register, walk to SUCCESS, heartbeat and look up
    until the time is up."""
    workdir, index = job
    app = build_app(Path(workdir), app_id="soak")
    orchestrator = app.orchestrator
    orchestrator.get_active_runners()  # opens the connection before the start
    result = WorkerResult()
    runner = f"soak-{index}"
    barrier.wait(BARRIER_TIMEOUT_SECONDS)
    ends_at = time.monotonic() + SECONDS
    while time.monotonic() < ends_at:
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
    return result


def _reader(db: Path, stop: threading.Event) -> None:
    """Keep read transactions open, one after another with a short pause, as a monitoring
    tool would. (One snapshot held for the whole minute would pin every WAL frame written
    after it: no checkpoint can rewind a WAL a reader still uses.)"""
    connection = sqlite3.connect(db, isolation_level=None)
    while not stop.is_set():
        connection.execute("BEGIN")
        connection.execute("SELECT COUNT(*) FROM orchestrator_invocations").fetchone()
        stop.wait(READER_HOLD_SECONDS)
        connection.execute("COMMIT")
        stop.wait(READER_PAUSE_SECONDS)
    connection.close()


@pytest.mark.timeout(SECONDS * 4 + 300)
def test_sixteen_processes_for_a_minute_lose_nothing_and_the_wal_stays_bounded(
    tmp_path: Path,
) -> None:
    app = build_app(tmp_path, app_id="soak")
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    db = Path(orchestrator.sqlite_db_path)
    stop = threading.Event()
    reader = threading.Thread(target=_reader, args=(db, stop))
    wal = db.with_name(db.name + "-wal")
    largest_wal = 0

    def sample_wal() -> None:
        nonlocal largest_wal
        largest_wal = max(largest_wal, wal.stat().st_size if wal.exists() else 0)

    reader.start()
    try:
        worker_results = run_workers(
            _hammer,
            [(str(tmp_path), index) for index in range(PROCESSES)],
            timeout=BARRIER_TIMEOUT_SECONDS + SECONDS * 3,
            poll=sample_wal,
            name="soak",
        )
    finally:
        stop.set()
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
        f"largest WAL {largest_wal / 1e6:.1f} MB; reader {READER_HOLD_SECONDS:g} s held, "
        f"{READER_PAUSE_SECONDS:g} s paused"
    )
    if JOURNAL_MODE == "wal":
        assert 0 < largest_wal <= WAL_BOUND_BYTES

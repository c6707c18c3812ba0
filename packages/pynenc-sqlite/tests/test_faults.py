"""Faults: killed writers, locks held by other programs, read-only places, hostile input."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus, get_status_definition
from pynenc.runner.runner_context import RunnerContext

from conftest import JOURNAL_MODE, ForkedChild, build_app, build_stack_app
from pynenc_contract import kit, tasks
from pynenc_sqlite import DatabaseFileError, DatabaseLockedError, PynencSQLiteOrchestrator
from pynenc_sqlite.schema import Tables

pytestmark = pytest.mark.faults

#: SIGKILLs per run of the kill test (the matrix runs it once per journal mode).
KILLS = int(os.environ.get("PYNENC_SQLITE_FAULT_KILLS", "50"))
WALK = (InvocationStatus.PENDING, InvocationStatus.RUNNING, InvocationStatus.SUCCESS)


def _writes(app: Pynenc) -> Iterator[str]:
    """One write per step (registrations, blocking edges, transitions, retries); each
    step yields a report of what it committed."""
    orchestrator = app.orchestrator
    while True:
        ids = [inv.invocation_id for inv in kit.invocations(app, 4)]
        yield f"registered {' '.join(ids)}"
        orchestrator.blocking_control.waiting_for_results(ids[0], ids[1:])
        yield f"waits {ids[0]} {' '.join(ids[1:])}"
        for invocation_id in ids[1:]:
            for step, status in enumerate(WALK):
                orchestrator._atomic_status_transition(invocation_id, status, "writer")
                yield f"status {invocation_id} {step}"
            orchestrator.increment_invocation_retries(invocation_id)
            yield f"retried {invocation_id}"


#: Writes in one cycle of :func:`_writes`.
WRITES_PER_CYCLE = 2 + 3 * (len(WALK) + 1)


def _status_changes(app: Pynenc) -> Iterator[str]:
    """One public status change per step (its history entry included), invocations
    walked to SUCCESS one after another."""
    orchestrator = app.orchestrator
    writer = RunnerContext("FaultWriter", runner_id="writer")
    while True:
        (invocation_id,) = kit.registered(app, 1)
        for step, status in enumerate(WALK):
            orchestrator.set_invocation_status(invocation_id, status, writer)
            yield f"status {invocation_id} {step}"


def _write_when_told(writes: Iterator[str], child: ForkedChild) -> str:
    """Child loop: one write per request, answered with its duration and its report.

    A request ``go SECONDS`` also arms a one-shot timer that ends the process that many
    seconds into the write: SIGALRM without a handler terminates at once, wherever
    the process is (inside SQLite's commit included), and runs no cleanup, as SIGKILL.
    """
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # pytest-timeout's handler is inherited
    while (request := child.hear()).startswith("go"):
        started = time.perf_counter()
        if die_after := request.removeprefix("go").strip():
            signal.setitimer(signal.ITIMER_REAL, float(die_after))
        report = next(writes)
        child.tell(f"{time.perf_counter() - started:.6f} {report}")
    return "stopped"


def _intact(db: Path) -> bool:
    with sqlite3.connect(db) as raw:
        try:
            result: tuple[str] = raw.execute("PRAGMA integrity_check").fetchone()
            return result == ("ok",)
        except sqlite3.DatabaseError:
            return False


def _stored_elsewhere(db: Path, invocation_ids: list[str]) -> str:
    """Whether a new connection sees ids that the orchestrator's own connection did not."""
    with sqlite3.connect(db) as raw:
        marks = ", ".join("?" * len(invocation_ids))
        query = f"SELECT COUNT(*) FROM {Tables.INVOCATIONS} WHERE invocation_id IN ({marks})"
        (found,) = raw.execute(query, invocation_ids).fetchone()
    return f"{found} of them seen through a new connection"


def _check_survivors(
    db: Path, orchestrator: PynencSQLiteOrchestrator, operations: list[str]
) -> None:
    """Valid records, and every reported (committed) operation present."""
    records = {
        invocation_id: orchestrator.get_invocation_status_record(invocation_id)
        for invocation_id in orchestrator.get_invocation_ids_paginated(limit=1_000_000)
    }
    for record in records.values():
        definition = get_status_definition(record.status)
        if definition.releases_ownership:
            assert record.runner_id is None, record
        if definition.requires_ownership:
            assert record.runner_id == "writer", record
    blocking = set(orchestrator.blocking_control.get_blocking_invocations(1_000_000))
    for line in operations:
        kind, *ids = line.split()
        if kind == "registered":
            lost = [i for i in ids if InvocationId(i) not in records]
            assert not lost, f"{line!r}: {lost} not seen, {_stored_elsewhere(db, lost)}"
        elif kind == "status":
            reached = WALK.index(records[InvocationId(ids[0])].status)
            assert reached >= int(ids[1]), line
        elif kind == "retried":
            assert orchestrator.get_invocation_retries(InvocationId(ids[0])) == 1
        elif kind == "waits":
            still_waiting = [
                i
                for i in ids[1:]
                if records[InvocationId(i)].status
                in InvocationStatus.get_available_for_run_statuses()
            ]
            assert set(still_waiting) <= blocking, line


def _kill_in_the_middle_of_writes(
    db: Path,
    writes: Callable[[], Iterator[str]],
    writes_per_cycle: int,
    check: Callable[[list[str]], None],
) -> None:
    """Fork writers of ``writes`` and kill each in the middle of a write, KILLS times;
    ``check`` the committed operations after each kill.

    Each writer commits a random number of writes, one per request, then is killed at
    a random point of the next one: within the time its last write took, measured by
    the writer itself. A kill that lands after that write committed does not count, so
    KILLS kills land in the middle of a write however loaded the machine.
    """
    rng = random.Random(20261128)
    operations: list[str] = []
    last_write_seconds = 0.0
    mid_write = after_write = 0
    while mid_write < KILLS:
        assert after_write < 10 * KILLS, f"only {mid_write} of {KILLS} kills landed mid-write"
        writer = ForkedChild(lambda child: _write_when_told(writes(), child))
        for _ in range(rng.randint(0 if operations else 1, writes_per_cycle - 1)):
            writer.tell("go")
            answer = writer.hear()
            assert answer, "the writer exited before it was killed"
            seconds, report = answer.split(" ", 1)
            last_write_seconds = float(seconds)
            operations.append(report)
        writer.tell(f"go {max(1e-6, rng.uniform(0, last_write_seconds)):.6f}")
        if answer := writer.hear():  # the write committed before the timer fired
            operations.append(answer.split(" ", 1)[1])
            after_write += 1
        else:
            mid_write += 1
        writer.kill()
        if not _intact(db):
            _expect_damage_reported_at_next_start(db)
            kill = mid_write + after_write
            print(f"\njournal_mode {JOURNAL_MODE}: damaged by kill {kill}, refused at restart")
            return
        try:
            check(operations)
        except AssertionError as half_written:
            # MEMORY's rollback journal dies with the writer: a commit a kill cut can
            # stay half-written where integrity_check cannot see it (SQLite's documented
            # risk). Any other mode, or MEMORY before any cut commit, must never show it.
            if JOURNAL_MODE != "memory" or not mid_write:
                raise
            print(f"\njournal_mode memory: kill {mid_write + after_write} half-wrote a commit")
            print(f"({str(half_written).splitlines()[0][:200]})")
            return
    print(
        f"\njournal_mode {JOURNAL_MODE}: {KILLS} kills in the middle of a write (and "
        f"{after_write} after one), {len(operations)} committed writes, 0 lost"
    )


@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_sigkill_during_writes_keeps_every_committed_write(tmp_path: Path) -> None:
    """Registrations, blocking edges, transitions and retries: every write that
    committed before a kill is there after it."""
    db = tmp_path / "killed.sqlite3"
    app = build_app(db.parent, app_id="faults", db_path=db)
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    _kill_in_the_middle_of_writes(
        db,
        lambda: _writes(app),
        WRITES_PER_CYCLE,
        lambda operations: _check_survivors(db, orchestrator, operations),
    )


@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_sigkill_cannot_separate_a_status_from_its_history_entry(tmp_path: Path) -> None:
    """On the stack (orchestrator and state backend in one file), a status change and
    its history entry are one transaction: after any kill, every invocation's last
    history entry is its stored status, stamped the same."""
    app = build_stack_app(tmp_path)
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    db = Path(orchestrator.sqlite_db_path)

    def status_and_history_agree(operations: list[str]) -> None:
        del operations  # every invocation is checked, committed or not
        for invocation_id in orchestrator.get_invocation_ids_paginated(limit=1_000_000):
            record = orchestrator.get_invocation_status_record(invocation_id)
            history = app.state_backend.get_history(invocation_id)
            last = history[-1].status_record if history else None
            if record.status is InvocationStatus.REGISTERED:  # registered by the kit: no entry
                assert last is None, (invocation_id, history)
            else:
                assert last == record, (invocation_id, record, history)

    _kill_in_the_middle_of_writes(
        db, lambda: _status_changes(app), len(WALK), status_and_history_agree
    )


def _expect_damage_reported_at_next_start(db: Path) -> None:
    """Only MEMORY keeps its rollback journal in RAM: SQLite documents that a crash in the
    middle of a transaction then corrupts the file. What must hold: no other mode ever
    corrupts, and the next start reports the damage clearly instead of using the file."""
    assert JOURNAL_MODE == "memory", f"journal mode {JOURNAL_MODE} corrupted the database"
    before = db.read_bytes()
    with pytest.raises(DatabaseFileError, match="is damaged"):
        build_app(db.parent, app_id="after-crash", db_path=db)
    assert db.read_bytes() == before


HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


@contextmanager
def _lock_held_by_another_process(db: Path) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.communicate(timeout=30)


@pytest.mark.timeout(60)
def test_a_lock_held_by_another_process_is_a_clear_error_then_work_resumes(
    make_app: Callable[..., Pynenc],
) -> None:
    app = make_app(busy_timeout_seconds=0.3)
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    (invocation_id,) = kit.registered(app, 1)
    with _lock_held_by_another_process(Path(orchestrator.sqlite_db_path)):
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError, match=r"busy timeout of 0\.3s") as raised:
            orchestrator._atomic_status_transition(invocation_id, InvocationStatus.PENDING, "r1")
        assert time.monotonic() - started < 10
        assert raised.value.path == orchestrator.sqlite_db_path
    orchestrator._atomic_status_transition(invocation_id, InvocationStatus.PENDING, "r1")
    assert orchestrator.get_invocation_status(invocation_id) == InvocationStatus.PENDING


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable, also for root (immutable attribute)."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], check=False).returncode != 0:
            pytest.skip("running as root and chattr +i is not available here")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)


def test_a_read_only_database_file_is_refused_untouched(
    make_app: Callable[..., Pynenc], tmp_path: Path
) -> None:
    db = tmp_path / "ro.sqlite3"
    kit.registered(make_app(db_path=db, app_id="ro"), 3)
    before = db.read_bytes()
    with _read_only(db), pytest.raises(DatabaseFileError, match="not readable and writable"):
        make_app(db_path=db, app_id="ro-again")
    assert db.read_bytes() == before


def test_a_read_only_directory_is_refused(make_app: Callable[..., Pynenc], tmp_path: Path) -> None:
    directory = tmp_path / "ro-dir"
    directory.mkdir()
    with _read_only(directory), pytest.raises(DatabaseFileError, match="directory is not writable"):
        make_app(db_path=directory / "new.sqlite3")
    assert list(directory.iterdir()) == []


HOSTILE_TEXT = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        [
            "'; DROP TABLE orchestrator_invocations; --",
            '" OR 1=1 --',
            "a\x00b",
            "SELECT * FROM sqlite_master",
            "x" * 100_000,
            "orchestrator_apps",
            "💥\n\t\\",
        ]
    ),
)


def _schema(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as raw:
        return raw.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(app_id=HOSTILE_TEXT, name=HOSTILE_TEXT, value=HOSTILE_TEXT, runner=HOSTILE_TEXT)
def test_hostile_identifiers_and_values_round_trip_and_leave_the_schema_alone(
    tmp_path_factory: pytest.TempPathFactory, app_id: str, name: str, value: str, runner: str
) -> None:
    db = tmp_path_factory.mktemp("hostile") / "hostile.sqlite3"
    app = build_app(db.parent, app_id=app_id, db_path=db)
    orchestrator = app.orchestrator
    schema = _schema(db)
    func = types.FunctionType(tasks.echo.__code__, {}, name)
    func.__module__, func.__qualname__ = tasks.__name__, name
    task = app.task(func)
    (inv,) = [DistributedInvocation.isolated(Call(task, Arguments({"value": value})))]
    orchestrator._register_new_invocations([inv], runner)
    orchestrator.index_arguments_for_concurrency_control(inv)
    orchestrator._atomic_status_transition(inv.invocation_id, InvocationStatus.PENDING, runner)
    orchestrator.register_runner_heartbeats([runner], consumed_queues=[value])
    serialized = inv.call.serialized_arguments
    assert list(orchestrator.get_existing_invocations(task, serialized)) == [inv.invocation_id]
    assert list(orchestrator.get_task_invocation_ids(task.task_id)) == [inv.invocation_id]
    assert list(orchestrator.get_call_invocation_ids(inv.call.call_id)) == [inv.invocation_id]
    assert orchestrator.get_invocation_status_record(inv.invocation_id).runner_id == runner
    (info,) = orchestrator.get_active_runners()
    assert (info.runner_id, info.consumed_queues) == (runner, (value,))
    assert _schema(db) == schema
    other = build_app(db.parent, app_id=f"{app_id}-other", db_path=db)
    assert other.orchestrator.count_invocations() == 0

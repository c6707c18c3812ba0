"""The database file: journal modes, permissions, bad files, schema versions, connections."""

import fcntl
import itertools
import logging
import os
import sqlite3
import stat
import threading
import traceback
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus

from conftest import JOURNAL_MODE, ForkedChild, build_stack_app
from pynenc_contract import kit
from pynenc_sqlite import (
    SCHEMA_VERSION,
    DatabaseFileError,
    DatabaseFullError,
    DatabaseLockedError,
    JournalMode,
    PynencSQLiteOrchestrator,
    SchemaVersionError,
)
from pynenc_sqlite.database import _SHARED_FIRST, _SHARED_SIZE, Database, change_journal_mode
from pynenc_sqlite.schema import APPLICATION_ID, MIGRATIONS, Tables

MakeApp = Callable[..., Pynenc]


def _ours(app: Pynenc) -> PynencSQLiteOrchestrator:
    assert isinstance(app.orchestrator, PynencSQLiteOrchestrator)
    return app.orchestrator


def _file_of_another_program(db: Path) -> None:
    """A SQLite file of another program: a table of users with one row."""
    with closing(sqlite3.connect(db)) as raw:
        raw.execute("CREATE TABLE users (name TEXT)")
        raw.execute("INSERT INTO users VALUES ('ada')")
        raw.commit()


def _file_of_schema_1(db: Path) -> None:
    """A file of pynenc-sqlite's first schema: no mark, no recorded journal mode."""
    with closing(sqlite3.connect(db)) as raw:
        for statement in MIGRATIONS[0]:
            raw.execute(statement)
        raw.execute("PRAGMA user_version=1")
        raw.commit()


def _register_and_start(app: Pynenc, batches: int) -> None:
    """Write about 11 commits per batch: 5 registrations, each walked to RUNNING."""
    for _ in range(batches):
        for invocation_id in kit.registered(app, 5):
            kit.walk(app, invocation_id, kit.path_to(InvocationStatus.RUNNING))


def test_the_configured_journal_mode_is_the_one_in_use(
    orchestrator: PynencSQLiteOrchestrator,
) -> None:
    (mode,) = orchestrator.database.connection().execute("PRAGMA journal_mode").fetchone()
    assert mode == JOURNAL_MODE
    if JOURNAL_MODE == "wal":
        with sqlite3.connect(orchestrator.sqlite_db_path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("recorded", "configured"), [("truncate", "wal"), ("wal", "delete")])
def test_a_process_configured_with_another_journal_mode_is_refused(
    make_app: MakeApp, tmp_path: Path, recorded: str, configured: str
) -> None:
    """The journal mode belongs to the file: a process configured otherwise is refused
    when it opens it, and the file and the processes using it go on as they were."""
    db = tmp_path / "shared.sqlite3"
    runner = make_app(db_path=db, journal_mode=recorded)
    (invocation_id,) = kit.registered(runner, 1)
    with pytest.raises(
        DatabaseFileError,
        match=rf"runs in journal mode '{recorded}', as recorded in the file when it was "
        rf"created; this process is configured with '{configured}'\. Configure "
        rf"journal_mode '{recorded}'",
    ) as refused:
        make_app(db_path=db, journal_mode=configured)
    # The error comes alone: no AttributeError about the thread's missing connection.
    assert "AttributeError" not in "".join(traceback.format_exception(refused.value))
    with db.open("rb") as handle:
        in_wal = handle.read(20)[18:20] == b"\x02\x02"
    assert in_wal == (recorded == "wal")
    assert db.with_name(db.name + "-wal").exists() == (recorded == "wal")
    kit.walk(runner, invocation_id, kit.path_to(InvocationStatus.RUNNING))
    assert runner.orchestrator.get_invocation_status(invocation_id) == InvocationStatus.RUNNING


@pytest.mark.parametrize(("configured", "expected"), [(None, 0o600), ("0640", 0o640)])
def test_new_files_are_private_unless_configured(
    make_app: MakeApp, tmp_path: Path, configured: str | None, expected: int
) -> None:
    options = {"file_mode": configured} if configured else {}
    path = Path(_ours(make_app(**options)).sqlite_db_path)
    assert path.stat().st_mode & 0o777 == expected


def test_a_directory_is_refused(make_app: MakeApp, tmp_path: Path) -> None:
    with pytest.raises(DatabaseFileError, match=r"is a directory\. Give the path of a file"):
        make_app(db_path=tmp_path)


def test_a_directory_that_cannot_be_created_is_refused(make_app: MakeApp) -> None:
    with pytest.raises(DatabaseFileError, match="its directory cannot be created"):
        make_app(db_path=Path("/proc/no-such-dir/orchestrator.sqlite3"), create_directory=True)


def test_a_missing_directory_is_an_error_unless_it_is_to_be_created(
    make_app: MakeApp, tmp_path: Path
) -> None:
    missing = tmp_path / "mistyped" / "deeper"
    with pytest.raises(
        DatabaseFileError, match=rf"its directory {missing} does not exist\. .*create_directory"
    ):
        make_app(db_path=missing / "orchestrator.sqlite3")
    assert not missing.parent.exists()
    make_app(db_path=missing / "orchestrator.sqlite3", create_directory=True)
    assert [stat.S_IMODE(d.stat().st_mode) for d in (missing.parent, missing)] == [0o700] * 2


def test_a_file_system_that_takes_no_new_files_is_a_database_file_error(
    make_app: MakeApp,
) -> None:
    # As root /proc passes the access check and refuses the file; as anyone else the
    # directory is not writable: either way one DatabaseFileError with its fix.
    with pytest.raises(
        DatabaseFileError,
        match=r"cannot be created .*writable file system|its directory is not writable",
    ):
        make_app(db_path=Path("/proc/pynenc-sqlite-test.sqlite3"))


def test_a_sqlite_file_of_another_program_is_refused_untouched(
    make_app: MakeApp, tmp_path: Path
) -> None:
    db = tmp_path / "theirs.sqlite3"
    _file_of_another_program(db)
    before = db.read_bytes()
    with pytest.raises(
        DatabaseFileError,
        match=r"another program \(application_id 0, tables: users\), not a pynenc-sqlite "
        r"database\. Give pynenc-sqlite a file of its own",
    ):
        make_app(db_path=db, journal_mode="wal")
    assert db.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["theirs.sqlite3"]


def test_a_file_shared_with_pynencs_own_sqlite_components_is_ours_too(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    app = (
        PynencBuilder()
        .app_id("shared")
        .sqlite(str(db))  # pynenc's components, which create their tables first
        .sqlite_orchestrator(journal_mode="wal")
        .build()
    )
    app.state_backend.purge()
    app.broker.purge()
    (invocation_id,) = kit.registered(app, 1)
    assert _ours(app).get_invocation_status(invocation_id) == InvocationStatus.REGISTERED
    _ours(app).close()


def test_a_new_file_is_marked_as_a_pynenc_sqlite_database(make_app: MakeApp) -> None:
    db = Path(_ours(make_app()).sqlite_db_path)
    with closing(sqlite3.connect(db)) as raw:
        ((application_id,),) = raw.execute("PRAGMA application_id").fetchall()
    assert application_id == APPLICATION_ID


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database, just some text " * 200, "is not a SQLite database"),
        (b"SQLite format 3\x00" + b"\x10\x00\x01\x01" + b"\x00" * 80, "damaged|not a SQLite"),
    ],
    ids=["garbage", "truncated"],
)
def test_bad_files_are_refused_and_left_untouched(
    make_app: MakeApp, tmp_path: Path, content: bytes, message: str
) -> None:
    db = tmp_path / "bad.sqlite3"
    db.write_bytes(content)
    with pytest.raises(DatabaseFileError, match=message):
        make_app(db_path=db)
    assert db.read_bytes() == content


def test_a_newer_schema_is_refused_and_left_untouched(make_app: MakeApp, tmp_path: Path) -> None:
    db = tmp_path / "newer.sqlite3"
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA application_id={APPLICATION_ID}")
        raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = db.read_bytes()
    with pytest.raises(SchemaVersionError, match="Upgrade pynenc-sqlite"):
        make_app(db_path=db)
    assert db.read_bytes() == before


def test_an_older_schema_is_migrated_keeping_its_data(make_app: MakeApp, tmp_path: Path) -> None:
    db = tmp_path / "older.sqlite3"
    _file_of_schema_1(db)
    with sqlite3.connect(db) as raw:
        raw.execute(f"INSERT INTO {Tables.APPS} (app_id) VALUES ('old-app')")
        raw.executemany(
            f"INSERT INTO {Tables.INVOCATIONS} (app_key, invocation_id, task_id, call_id, "
            "status, status_time, registered_time) VALUES (1, ?, 't.f', 'c', ?, 0, ?)",
            [("kept", "registered", 1.0), ("waiter", "paused", 0.0), ("older", "registered", 0.5)],
        )
        raw.executemany(
            f"INSERT INTO {Tables.BLOCKING_EDGES} (app_key, waiter_id, waited_id) VALUES (1, ?, ?)",
            [("waiter", "kept"), ("waiter", "older")],
        )
    app = make_app(db_path=db, app_id="old-app")
    assert (
        app.orchestrator.get_invocation_status(InvocationId("kept")) == InvocationStatus.REGISTERED
    )
    # migration 3 copied each waited invocation's registration order into its edges
    assert list(app.orchestrator.blocking_control.get_blocking_invocations(5)) == [
        "older",
        "kept",
    ]
    app.orchestrator.register_runner_heartbeats(["r1"])  # a table of migration 2
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        # A file of a pynenc-sqlite from before the mark is known and marked.
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_an_older_file_kept_in_wal_by_another_connection_refuses_another_mode(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """A file of a pynenc-sqlite from before the journal mode was recorded: while another
    connection keeps it in WAL, SQLite cannot leave WAL, so a process configured with
    another mode is refused, the file neither switched nor migrated; once every
    connection is gone, the new mode is taken and recorded."""
    db = tmp_path / "older.sqlite3"
    _file_of_schema_1(db)
    with closing(sqlite3.connect(db, isolation_level=None)) as older:
        older.execute("PRAGMA journal_mode=wal")
        older.execute(f"SELECT COUNT(*) FROM {Tables.APPS}").fetchone()  # as a process reads
        with pytest.raises(
            DatabaseFileError,
            match=r"runs in journal mode 'wal', not the configured 'delete'\. SQLite keeps "
            r"WAL while another connection has the file open",
        ):
            make_app(db_path=db, journal_mode="delete")
        assert older.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert older.execute("PRAGMA user_version").fetchone() == (1,)
    app = make_app(db_path=db, journal_mode="delete")
    (mode,) = _ours(app).database.connection().execute("PRAGMA journal_mode").fetchone()
    assert mode == "delete"


@pytest.mark.parametrize("made", ["open in this process", "of another program", "older"])
def test_the_journal_mode_change_refuses_a_file_and_leaves_it_untouched(
    make_app: MakeApp, tmp_path: Path, made: str
) -> None:
    """``change_journal_mode`` switches only a database of this schema that no process
    uses: each refusal names the problem and the fix, and changes no byte."""
    db = tmp_path / "refused.sqlite3"
    if made == "open in this process":
        make_app(db_path=db, journal_mode="truncate")
    elif made == "of another program":
        _file_of_another_program(db)
    else:
        _file_of_schema_1(db)
    before = db.read_bytes()
    refusal = {
        "open in this process": r"is open in this process\. Run the change on its own",
        "of another program": r"another program \(application_id 0, tables: users\), not "
        r"a pynenc-sqlite database\. Give the path of a pynenc-sqlite database",
        "older": rf"has schema version 1, not {SCHEMA_VERSION}\. Start and stop one process "
        r"of the app with this pynenc-sqlite to migrate it",
    }[made]
    with pytest.raises(DatabaseFileError, match=refusal):
        change_journal_mode(db, JournalMode.WAL)
    assert db.read_bytes() == before


def test_a_closed_app_lets_this_process_change_the_journal_mode(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """``close()`` leaves the file: a script may close its app, then switch the mode;
    the app's next call announces the process again."""
    db = tmp_path / "closed.sqlite3"
    app = make_app(db_path=db, journal_mode="truncate")
    _ours(app).close()
    assert change_journal_mode(db, JournalMode.DELETE) == "truncate"
    with pytest.raises(DatabaseFileError, match="recorded in the file"):
        app.orchestrator.count_invocations()
    with pytest.raises(DatabaseFileError, match=r"is open in this process"):
        change_journal_mode(db, JournalMode.TRUNCATE)


def test_a_process_waits_for_a_change_of_the_journal_mode_at_most_its_busy_timeout(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """While ``pynenc-sqlite journal-mode`` holds the file (its exclusive lock), a process
    that starts waits for it to end; past its busy timeout it gives up with the fix,
    the file left as it was."""
    db = tmp_path / "changing.sqlite3"
    db.touch()
    ended = threading.Event()
    with db.open("rb") as change:
        fcntl.flock(change, fcntl.LOCK_EX)  # the lock change_journal_mode holds
        with pytest.raises(
            DatabaseFileError,
            match=r"is held by a change of its journal mode for longer than the busy timeout "
            r"of 0\.2s\. Wait for pynenc-sqlite journal-mode to finish, then start again",
        ):
            make_app(db_path=db, busy_timeout_seconds=0.2)
        assert db.read_bytes() == b""

        def end_the_change() -> None:
            ended.set()
            fcntl.flock(change, fcntl.LOCK_UN)

        ending = threading.Timer(1.0, end_the_change)
        ending.start()
        try:
            app = make_app(db_path=db)
            waited = ended.is_set()
        finally:
            ending.join()
    assert waited, "the process started while the journal mode was being changed"
    (invocation_id,) = kit.registered(app, 1)
    assert _ours(app).get_invocation_status(invocation_id) == InvocationStatus.REGISTERED


def _connection_in_a_thread(
    database: Database, together: threading.Barrier | None = None
) -> tuple[threading.Thread, list[sqlite3.Connection]]:
    """A started thread that takes a connection, then waits at ``together`` if given."""
    seen: list[sqlite3.Connection] = []

    def take() -> None:
        seen.append(database.connection())
        if together is not None:
            together.wait(30)

    thread = threading.Thread(target=take)
    thread.start()
    return thread, seen


def test_one_kept_connection_per_thread(orchestrator: PynencSQLiteOrchestrator) -> None:
    main = orchestrator.database.connection()
    assert orchestrator.database.connection() is main
    together = threading.Barrier(3)
    first, first_seen = _connection_in_a_thread(orchestrator.database, together)
    second, second_seen = _connection_in_a_thread(orchestrator.database, together)
    together.wait(30)  # both threads hold their connections now
    first.join()
    second.join()
    assert len({id(main), id(first_seen[0]), id(second_seen[0])}) == 3


def test_a_thread_that_ends_leaves_its_connection_to_the_next(
    orchestrator: PynencSQLiteOrchestrator,
) -> None:
    """A runner that starts a thread per task opens no connection per task."""
    database = orchestrator.database
    taken = []
    for _ in range(20):
        thread, seen = _connection_in_a_thread(database)
        thread.join()
        taken.append(seen[0])
    assert len({id(conn) for conn in taken}) == 1
    assert taken[0] is not database.connection()


def test_a_thread_that_ends_in_a_transaction_leaves_nothing_of_it(
    orchestrator: PynencSQLiteOrchestrator,
) -> None:
    database = orchestrator.database

    def write_without_commit() -> None:
        conn = database.connection()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"INSERT INTO {Tables.APPS} (app_id) VALUES ('uncommitted')")

    thread = threading.Thread(target=write_without_commit)
    thread.start()
    thread.join()
    thread, seen = _connection_in_a_thread(database)
    thread.join()
    assert not seen[0].in_transaction
    found = database.connection().execute(
        f"SELECT COUNT(*) FROM {Tables.APPS} WHERE app_id = 'uncommitted'"
    )
    assert found.fetchone() == (0,)


def test_a_component_built_inside_another_components_transaction(tmp_path: Path) -> None:
    """pynenc builds components lazily, for example the client data store when a
    value is first serialized, which can be inside another component's write."""
    app = build_stack_app(tmp_path)
    database = app.orchestrator.database  # type: ignore[attr-defined]
    store = database.transact(lambda _: app.client_data_store)
    assert store.database is database


def test_close_then_reuse(make_app: MakeApp) -> None:
    app = make_app()
    orchestrator = _ours(app)
    first = orchestrator.database.connection()
    orchestrator.close()
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")
    ids = kit.registered(app, 1)
    assert orchestrator.get_invocation_status(ids[0]) == InvocationStatus.REGISTERED


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_opens_its_own_connection(make_app: MakeApp) -> None:
    app = make_app()
    orchestrator = _ours(app)
    (invocation_id,) = kit.registered(app, 1)
    parent_connection = orchestrator.database.connection()

    def body(_: ForkedChild) -> str:  # must not touch the parent's connection
        own = orchestrator.database.connection() is not parent_connection
        orchestrator._atomic_status_transition(invocation_id, InvocationStatus.PENDING, "child")
        return "ok" if own else "reused"

    assert ForkedChild(body).result() == "ok"
    assert orchestrator.database.connection() is parent_connection
    record = orchestrator.get_invocation_status_record(invocation_id)
    assert (record.status, record.runner_id) == (InvocationStatus.PENDING, "child")


@pytest.mark.timeout(30)
@pytest.mark.skipif(JOURNAL_MODE != "wal", reason="the WAL is deleted only in journal_mode wal")
@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_keeps_its_commits_when_the_parent_closes(make_app: MakeApp) -> None:
    """The child inherits SQLite's lock records, not the locks: the parent's close must
    still see the child and leave the WAL it writes to in place."""
    app = make_app()
    orchestrator = _ours(app)
    kit.registered(app, 1)  # the parent holds a connection when it forks

    def body(child: ForkedChild) -> str:
        first = kit.registered(app, 5)
        child.tell("open")
        child.hear()  # the parent has closed its connection
        return " ".join(first + kit.registered(app, 20))

    child = ForkedChild(body)
    assert child.hear() == "open"
    orchestrator.close()
    child.tell("closed")
    committed = child.result().split()
    with sqlite3.connect(orchestrator.sqlite_db_path) as fresh:
        stored = {
            row[0] for row in fresh.execute(f"SELECT invocation_id FROM {Tables.INVOCATIONS}")
        }
    assert len(committed) == 25
    assert set(committed) <= stored, f"{len(set(committed) - stored)} of 25 commits lost"


@pytest.mark.skipif(JOURNAL_MODE != "wal", reason="the child's own lock is taken in wal")
@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_reports_a_file_locked_past_the_busy_timeout(make_app: MakeApp) -> None:
    app = make_app(busy_timeout_seconds=0.2)
    orchestrator = _ours(app)
    kit.registered(app, 1)

    def body(child: ForkedChild) -> str:
        child.hear()  # the parent holds the file's EXCLUSIVE lock
        try:
            kit.registered(app, 1)
        except DatabaseLockedError as error:
            return str(error)
        return "registered"

    child = ForkedChild(body)
    orchestrator.close()
    with open(orchestrator.sqlite_db_path, "rb+") as exclusive:  # as SQLite's EXCLUSIVE lock
        fcntl.lockf(exclusive, fcntl.LOCK_EX, _SHARED_SIZE, _SHARED_FIRST)
        child.tell("locked")
        reported = child.result()
    assert "stayed locked for more than the busy timeout of 0.2s" in reported


def test_a_lock_held_past_the_busy_timeout_is_a_clear_error(make_app: MakeApp) -> None:
    app = make_app(busy_timeout_seconds=0.2)
    orchestrator = _ours(app)
    (invocation_id,) = kit.registered(app, 1)
    holder = sqlite3.connect(orchestrator.sqlite_db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(
            DatabaseLockedError, match=r"orchestrator\.sqlite3.*busy timeout of 0\.2s"
        ):
            orchestrator._atomic_status_transition(invocation_id, InvocationStatus.PENDING, "r1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    orchestrator._atomic_status_transition(invocation_id, InvocationStatus.PENDING, "r1")
    assert orchestrator.get_invocation_status(invocation_id) == InvocationStatus.PENDING


def test_a_full_database_is_a_clear_error_and_loses_nothing(make_app: MakeApp) -> None:
    app = make_app(busy_timeout_seconds=0.3)  # how long a write waits for space
    orchestrator = _ours(app)
    connection = orchestrator.database.connection()
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    connection.execute(f"PRAGMA max_page_count={pages + 2}")
    stored: list[str] = []

    def fill() -> None:
        for _ in range(200):
            stored.extend(kit.registered(app, 20))

    with pytest.raises(DatabaseFullError, match="is full"):
        fill()
    assert orchestrator.count_invocations() == len(stored)
    connection.execute("PRAGMA max_page_count=1073741823")
    stored += kit.registered(app, 20)
    assert orchestrator.count_invocations() == len(stored)
    (check,) = connection.execute("PRAGMA integrity_check").fetchone()
    assert check == "ok"


def test_a_write_waits_for_space_that_comes_back_within_the_busy_timeout(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(busy_timeout_seconds=60)
    orchestrator = _ours(app)
    connection = orchestrator.database.connection()
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    connection.execute(f"PRAGMA max_page_count={pages}")
    space_back = threading.Timer(
        0.5, lambda: connection.execute("PRAGMA max_page_count=1073741823")
    )
    space_back.start()
    try:
        stored = kit.registered(app, 100)  # the first one needs a page more
    finally:
        space_back.join()
    assert "the file system is full; writes wait up to 60 s for space" in caplog.text
    assert orchestrator.count_invocations() == len(stored) == 100


@pytest.mark.skipif(JOURNAL_MODE != "wal", reason="the WAL bound applies to journal_mode wal")
@pytest.mark.timeout(60)
def test_the_wal_is_truncated_while_a_reader_holds_snapshots(make_app: MakeApp) -> None:
    app = make_app(wal_autocheckpoint_pages=2)  # bound: 4 x 2 pages = 32 KiB
    orchestrator = _ours(app)
    wal = Path(f"{orchestrator.sqlite_db_path}-wal")
    stop = threading.Event()

    def hold_snapshots() -> None:
        reader = sqlite3.connect(orchestrator.sqlite_db_path, isolation_level=None)
        while not stop.is_set():
            reader.execute("BEGIN")
            reader.execute("SELECT COUNT(*) FROM orchestrator_invocations").fetchone()
            stop.wait(0.02)
            reader.execute("COMMIT")
            stop.wait(0.005)  # a monitoring tool pauses between queries
        reader.close()

    thread = threading.Thread(target=hold_snapshots)
    thread.start()
    sizes = []
    try:
        for _ in range(200):  # about 30 MB of WAL frames if it were never rewound
            _register_and_start(app, 1)
            sizes.append(wal.stat().st_size)
    finally:
        stop.set()
        thread.join()
    assert any(later < earlier for earlier, later in itertools.pairwise(sizes)), "never truncated"
    assert max(sizes) < 4 * 1024 * 1024, f"the WAL grew to {max(sizes)} bytes"


@pytest.mark.skipif(JOURNAL_MODE != "wal", reason="the WAL bound applies to journal_mode wal")
@pytest.mark.timeout(60)
def test_a_reader_that_never_lets_go_costs_writers_few_checkpoint_waits(
    make_app: MakeApp,
) -> None:
    app = make_app(wal_autocheckpoint_pages=2, busy_timeout_seconds=0.05)
    orchestrator = _ours(app)
    wal = Path(f"{orchestrator.sqlite_db_path}-wal")
    truncations: list[str] = []  # each attempt polls with the busy handler off
    orchestrator.database.connection().set_trace_callback(
        lambda sql: truncations.append(sql) if sql == "PRAGMA busy_timeout=0" else None
    )
    reader = sqlite3.connect(orchestrator.sqlite_db_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute(f"SELECT COUNT(*) FROM {Tables.INVOCATIONS}").fetchone()
    _register_and_start(app, 100)  # about 1,100 commits
    blocked_attempts, held_size = len(truncations), wal.stat().st_size
    reader.execute("COMMIT")
    reader.close()
    _register_and_start(app, 27)  # about 300 commits
    # one attempt per 16 commits would be about 70; backing off keeps it near 8
    assert 1 <= blocked_attempts <= 12, truncations
    assert wal.stat().st_size < held_size, "the WAL was not truncated once the reader left"


def test_journal_mode_memory_refuses_a_damaged_file_at_start(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """A crash mid-commit in MEMORY mode can leave this; the next start must not use it."""
    db = tmp_path / "damaged.sqlite3"
    app = make_app(db_path=db, journal_mode="memory")
    kit.registered(app, 400)
    _ours(app).close()
    data = bytearray(db.read_bytes())
    middle = len(data) // 4096 // 2 * 4096
    data[middle : middle + 4096] = bytes(4096)
    db.write_bytes(bytes(data))
    with pytest.raises(DatabaseFileError, match="is damaged"):
        make_app(db_path=db, journal_mode="memory")
    assert db.read_bytes() == bytes(data)


def test_the_app_log_names_the_file_and_the_settings_in_force(tmp_path: Path) -> None:
    db = tmp_path / "logged.sqlite3"
    app = PynencBuilder().app_id("logged").sqlite_stack(str(db), journal_mode="truncate").build()
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    app.logger.addHandler(handler)
    try:
        app.state_backend.purge()
        app.broker.purge()  # the stack's components share the orchestrator's database
    finally:
        app.logger.removeHandler(handler)
        _ours(app).close()
    opened = [message for message in seen if message.startswith("pynenc-sqlite database")]
    assert opened == [
        f"pynenc-sqlite database {db}: journal mode truncate, schema {SCHEMA_VERSION}, "
        "busy timeout 30 s"
    ]

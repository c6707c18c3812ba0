"""Kept connections to one SQLite database file, checked once and reused.

One connection per process and thread, opened lazily with the configured
PRAGMAs (never per call); when a thread ends, its connection is kept for the next
thread (a runner that starts a thread per task opens a handful, not one per task).
Never used or closed in a forked child (which opens its own, holding the lock
SQLite believes it inherited), closed by :meth:`Database.close` or at interpreter
exit. Writes run in ``BEGIN IMMEDIATE`` transactions; waiting for other writers is
left to SQLite's busy timeout.
"""

import atexit
import errno
import fcntl
import logging
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from pynenc_sqlite.conf.config_database import DatabaseSettings, JournalMode
from pynenc_sqlite.exceptions import (
    DatabaseFileError,
    DatabaseFullError,
    DatabaseLockedError,
    SchemaVersionError,
)
from pynenc_sqlite.schema import (
    APPLICATION_ID,
    FILE_SETTINGS,
    MIGRATIONS,
    SCHEMA_VERSION,
    Tables,
)

#: Connections inherited through fork: a child must neither use nor close them
#: (closing could checkpoint or unlock on the parent's behalf), so they are kept.
_INHERITED_THROUGH_FORK: list[sqlite3.Connection] = []
#: Every open database of this process, closed at interpreter exit.
_OPEN_DATABASES: "weakref.WeakSet[Database]" = weakref.WeakSet()
#: Database files (real paths) whose SQLite lock records this process copied from a
#: parent through fork: records of locks that this process does not hold.
_LOCK_RECORDS_INHERITED: set[str] = set()
#: Per file, the descriptor that holds this process's own SHARED lock. Never closed:
#: closing any descriptor of a file drops every lock this process holds on it.
_SHARED_LOCKS: dict[str, int] = {}
#: SQLite's unix locking: a SHARED lock is a read lock on these bytes of the file.
_SHARED_FIRST = 0x40000000 + 2
_SHARED_SIZE = 510

#: Tables of pynenc's own SQLite components (``<app>_<hash>__<name>``), which may share
#: a file with ours.
_PYNENC_TABLE = re.compile(r".+__(broker_|client_data|orchestrator_|state_backend_|trg_)")

#: Per file, this process's presence: the descriptor holding a shared ``flock`` while
#: any :class:`Database` of the file lives in the process, and how many do. Changing
#: the journal mode needs the exclusive lock, so it is refused while any process uses
#: the file (flock locks are apart from SQLite's fcntl locks, and a forked child
#: shares its parent's).
_PRESENCE: dict[str, list[int]] = {}

_LOG = logging.getLogger(__name__)
_NOW_FUNCTION = "pynenc_sqlite_now"
#: SQL for "now" in epoch seconds, evaluated when the statement runs (under its lock).
NOW_SQL = f"{_NOW_FUNCTION}()"
#: Commits between two WAL size checks of a thread: the fewest, and the most after
#: truncations that readers kept blocking (the interval doubles after each one).
_WAL_CHECK_COMMITS_MIN = 16
_WAL_CHECK_COMMITS_MAX = 256
_CHECKPOINT_WAIT_SECONDS = 0.1
_CHECKPOINT_POLL_SECONDS = 0.001
#: Pauses between attempts at a write while the file system is full.
_SPACE_PAUSE_MIN_SECONDS = 0.01
_SPACE_PAUSE_MAX_SECONDS = 1.0
_PAGE_BYTES = 4096
_LOCKED_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def _now() -> float:
    return time.time()  # looked up per call: clocks patched in tests apply


class _Connection(sqlite3.Connection):
    """A connection that can be referenced weakly (plain ones cannot)."""


class _Lease:
    """A thread's hold on a connection: when the thread ends, its thread-local data
    goes, and with this object the connection returns to the idle ones."""

    def __init__(self, conn: sqlite3.Connection, idle: list[sqlite3.Connection]) -> None:
        self.conn = conn
        weakref.finalize(self, idle.append, conn).atexit = False


def _after_fork_in_child() -> None:
    """Set the parent's connections aside; this process opens its own on first use."""
    _SHARED_LOCKS.clear()  # the descriptors are inherited (and stay open), the locks are not
    for database in list(_OPEN_DATABASES):
        database._set_aside_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Database:
    """Connection manager for one database file with validated settings."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self._local = threading.local()
        #: Connections of threads that ended, for the next threads to take.
        self._idle: list[sqlite3.Connection] = []
        self._errors = _ErrorTranslation(self)
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._wal_path = f"{settings.path}-wal"
        self._real_path = os.path.realpath(settings.path)
        #: Bytes past which a TRUNCATE checkpoint is forced (4x the autocheckpoint size).
        self._wal_limit_bytes = settings.wal_autocheckpoint_pages * _PAGE_BYTES * 4
        #: This object's share of the process's presence on the file (see _PRESENCE).
        self._presence: weakref.finalize[[str], Database] | None = None
        self._prepare_file()
        self._announce_presence()
        self._migrate(self.connection())
        if settings.journal_mode is JournalMode.MEMORY:
            self._check_after_possible_crash()
        _OPEN_DATABASES.add(self)

    # -- connections -------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection: the one it holds, else one a thread that ended
        left, else a new one (in a forked child too)."""
        # getattr, not try/except AttributeError: an error raised while connecting
        # must not come chained to an AttributeError about the missing lease.
        lease: _Lease | None = getattr(self._local, "lease", None)
        if lease is None:
            if self._presence is None:
                self._announce_presence()
            lease = self._local.lease = _Lease(self._reuse_idle() or self._connect(), self._idle)
        return lease.conn

    def _reuse_idle(self) -> sqlite3.Connection | None:
        """A connection a thread that ended left (none in a transaction), or None."""
        try:
            conn = self._idle.pop()
        except IndexError:
            return None
        if conn.in_transaction:  # its thread ended inside one: nothing of it commits
            conn.rollback()
        return conn

    def close(self) -> None:
        """Close every connection this process opened (threads included), and leave the
        file (the next call opens a connection and announces this process again)."""
        for conn in list(self._connections):
            conn.close()
        self._local = threading.local()
        self._idle = []
        if self._presence is not None:
            self._presence()
            self._presence = None

    def _announce_presence(self) -> None:
        """Hold this process's shared presence lock on the file (see :data:`_PRESENCE`),
        waiting up to the busy timeout while its journal mode is being changed."""
        if (held := _PRESENCE.get(self._real_path)) is not None:
            held[1] += 1
            self._presence = weakref.finalize(self, _leave, self._real_path)
            return
        fd = os.open(self._real_path, os.O_RDONLY)
        deadline = time.monotonic() + self.settings.busy_timeout_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                os.close(fd)
                raise DatabaseFileError(
                    self.settings.path,
                    "is held by a change of its journal mode for longer than the busy "
                    f"timeout of {self.settings.busy_timeout_seconds:g}s",
                    "Wait for pynenc-sqlite journal-mode to finish, then start again",
                ) from None
            _PRESENCE[self._real_path] = [fd, 1]
            self._presence = weakref.finalize(self, _leave, self._real_path)
            return

    def _set_aside_inherited(self) -> None:
        """In a forked child: keep the parent's connections, unused, and forget them.

        Forks are seen through :func:`os.register_at_fork`, so a fork made in C
        without Python's fork hooks (which is unsafe for Python code anyway) is not.
        """
        if self._connections:
            _INHERITED_THROUGH_FORK.extend(self._connections)
            _LOCK_RECORDS_INHERITED.add(self._real_path)
        self._connections = weakref.WeakSet()
        self._local = threading.local()
        self._idle = []

    def _hold_shared_lock(self) -> None:
        """Take the SHARED lock that SQLite's copied lock records say this process holds.

        A forked child inherits SQLite's records of its parent's locks on the file,
        not the locks, so its own connections take none. In WAL mode a process that
        closes the last other connection then sees nobody left: it checkpoints and
        deletes the WAL that this process still writes to, and every later commit of
        this process is lost. This takes the read lock on SQLite's SHARED bytes,
        waiting at most the busy timeout, on a descriptor kept open until exit.
        """
        path = self.settings.path
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        deadline = time.monotonic() + self.settings.busy_timeout_seconds
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, _SHARED_SIZE, _SHARED_FIRST)
            except OSError as error:
                locked = error.errno in (errno.EACCES, errno.EAGAIN)
                if locked and time.monotonic() < deadline:
                    time.sleep(0.001)
                    continue
                os.close(fd)  # this process holds no lock on the file yet
                if locked:
                    raise DatabaseLockedError(path, self.settings.busy_timeout_seconds) from error
                raise
            _SHARED_LOCKS[self._real_path] = fd
            return

    def _connect(self) -> _Connection:
        settings = self.settings
        if (
            settings.journal_mode is JournalMode.WAL
            and self._real_path in _LOCK_RECORDS_INHERITED
            and self._real_path not in _SHARED_LOCKS
        ):
            self._hold_shared_lock()
        conn = sqlite3.connect(
            settings.path,
            timeout=settings.busy_timeout_seconds,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
            factory=_Connection,
        )
        conn.create_function(_NOW_FUNCTION, 0, _now)
        try:
            with self.translate_errors():
                self._apply_pragmas(conn)
        except BaseException:
            conn.close()
            raise
        self._connections.add(conn)
        return conn

    def _apply_pragmas(self, conn: sqlite3.Connection) -> None:
        settings = self.settings
        # Refuse another program's file, a newer schema, or another journal mode than the
        # file's, before changing anything.
        self._require_ours(conn)
        if self._schema_version(conn) == 0:
            # A new file: incremental vacuum lets retention give freed pages back to the
            # file system. It takes effect only before the first table and before WAL.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self._require_recorded_journal_mode(conn)
        wanted = settings.journal_mode
        try:
            (actual,) = conn.execute(f"PRAGMA journal_mode={wanted.value}").fetchone()
        except sqlite3.OperationalError as error:
            # Leaving WAL needs the file to itself: with other connections open SQLite
            # answers "locked" at once (no busy wait); report the mode it stays in.
            if _primary_code(error) not in _LOCKED_CODES:
                raise
            (actual,) = conn.execute("PRAGMA journal_mode").fetchone()
            if str(actual).lower() == wanted.value:
                raise
        if str(actual).lower() != wanted.value:
            raise DatabaseFileError(
                settings.path,
                f"runs in journal mode {actual!r}, not the configured {wanted.value!r}",
                "SQLite keeps WAL while another connection has the file open; use the "
                "same journal_mode in every process of the app, or stop them all and "
                "start again with the new mode",
            )
        conn.execute(f"PRAGMA synchronous={settings.synchronous.value}")
        if wanted is JournalMode.WAL:
            conn.execute(f"PRAGMA wal_autocheckpoint={settings.wal_autocheckpoint_pages}")

    # -- transactions --------------------------------------------------------
    def transact[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a ``BEGIN IMMEDIATE`` transaction and commit it; what it returns.

        An error in ``work`` rolls the transaction back. While the file system is full,
        ``work`` runs again in a new transaction (see :meth:`_waiting_for_space`), so it
        must act only through the connection it is given.
        """

        def attempt() -> T:
            with _WriteTransaction(self) as tx:
                return work(tx)

        return self._waiting_for_space(attempt)

    def write_one(self, statement: str, params: Sequence[object]) -> list[Any]:
        """Run one write statement as its own transaction; the rows it returns.

        SQLite takes the write lock for the whole statement, waiting like
        ``BEGIN IMMEDIATE`` does, so it needs no explicit transaction.
        """
        conn = self.connection()

        def attempt() -> list[Any]:
            with self._errors:
                rows = conn.execute(statement, params).fetchall()
                self._bound_wal(conn)
            return rows

        return self._waiting_for_space(attempt)

    def _waiting_for_space[T](self, attempt: Callable[[], T]) -> T:
        """``attempt`` a write until it gets the space it needs, for up to the busy timeout.

        On a full file system SQLite rolls back the whole transaction, in a statement or
        in the commit, so nothing of a failed attempt stays. Writes wait for space as
        they wait for a lock: the attempts pause from 10 ms, doubling up to 1 s, and
        after ``busy_timeout_seconds`` the last :class:`DatabaseFullError` is raised.
        Space freed within that time (a log rotated, a disk grown) costs no error, so
        no runner stops with work in hand.
        """
        deadline, pause = None, _SPACE_PAUSE_MIN_SECONDS
        while True:
            try:
                return attempt()
            except DatabaseFullError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.settings.busy_timeout_seconds
                    _LOG.warning(
                        "%s: the file system is full; writes wait up to %g s for space",
                        self.settings.path,
                        self.settings.busy_timeout_seconds,
                    )
                if now >= deadline:
                    raise
                time.sleep(min(pause, deadline - now))
                pause = min(pause * 2, _SPACE_PAUSE_MAX_SECONDS)

    def _bound_wal(self, conn: sqlite3.Connection) -> None:
        """After a commit in WAL mode: every few commits, truncate a WAL that outgrew
        its bound (no-op in the other journal modes).

        SQLite's automatic checkpoints are passive: while readers keep snapshots open,
        the WAL is never rewound and grows without limit (about 1 GB in 20 s with 16
        busy processes and one reader). A TRUNCATE checkpoint waits for those readers
        to move on, then rewinds and truncates the file. It waits at most
        ``_CHECKPOINT_WAIT_SECONDS`` so that a reader that never pauses cannot stall
        this writer; each blocked attempt doubles the commits until the next one.
        """
        if self.settings.journal_mode is not JournalMode.WAL:
            return
        local = self._local
        commits_left = getattr(local, "wal_check_in", 1) - 1
        if commits_left:
            local.wal_check_in = commits_left
            return
        interval = getattr(local, "wal_check_interval", _WAL_CHECK_COMMITS_MIN)
        try:
            size = os.stat(self._wal_path).st_size
        except FileNotFoundError:
            size = 0
        if size > self._wal_limit_bytes and not self._truncate_wal(conn):
            interval = min(interval * 2, _WAL_CHECK_COMMITS_MAX)
        else:
            interval = _WAL_CHECK_COMMITS_MIN
        local.wal_check_interval = local.wal_check_in = interval

    def _truncate_wal(self, conn: sqlite3.Connection) -> bool:
        """Checkpoint and truncate the WAL, waiting briefly for readers; whether it did.

        It polls every millisecond rather than using SQLite's busy handler, whose
        sleeps grow to 25 ms and more: readers that pause for a few milliseconds
        between snapshots would be missed, most of all on a loaded machine.
        """
        wait = min(_CHECKPOINT_WAIT_SECONDS, self.settings.busy_timeout_seconds)
        deadline = time.monotonic() + wait
        conn.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    (blocked, _, _) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.OperationalError as error:
                    if _primary_code(error) == sqlite3.SQLITE_FULL:
                        return False  # the commit before stands; the WAL is kept for now
                    if _primary_code(error) not in _LOCKED_CODES:
                        raise
                    blocked = True  # another connection writes or checkpoints right now
                if not blocked or time.monotonic() >= deadline:
                    return not blocked
                time.sleep(_CHECKPOINT_POLL_SECONDS)
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(self.settings.busy_timeout_seconds * 1000)}")

    def translate_errors(self) -> "_ErrorTranslation":
        """A context that turns SQLite errors a user can act on into this package's errors."""
        return self._errors

    def _translate(self, error: sqlite3.Error) -> Exception | None:
        code = _primary_code(error)
        path = self.settings.path
        if code in _LOCKED_CODES:
            return DatabaseLockedError(path, self.settings.busy_timeout_seconds)
        if code == sqlite3.SQLITE_FULL:
            return DatabaseFullError(path)
        if code == sqlite3.SQLITE_NOTADB:
            return DatabaseFileError(
                path,
                "is not a SQLite database",
                "Point sqlite_db_path at a new or existing orchestrator database; "
                "this file was left untouched",
            )
        if code == sqlite3.SQLITE_CORRUPT:
            return DatabaseFileError(
                path,
                "is damaged (truncated or overwritten)",
                "Restore it from a backup or move it away; it was left untouched",
            )
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            return DatabaseFileError(
                path,
                f"cannot be written ({error})",
                "Make the file and its directory writable by this user (WAL also "
                "creates -wal and -shm files beside it), or choose another path",
            )
        return None

    def _check_after_possible_crash(self) -> None:
        """MEMORY keeps the rollback journal in RAM: a process that dies in the middle of
        a commit leaves a damaged file and no journal to repair it, so check at start."""
        _LOG.warning(
            "%s: journal_mode 'memory' does not survive a crash in the middle of a "
            "transaction; use wal or delete where the data matters",
            self.settings.path,
        )
        with self.translate_errors():
            problems = [row[0] for row in self.connection().execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise DatabaseFileError(
                self.settings.path,
                f"is damaged (integrity_check: {'; '.join(problems[:3])})",
                "A process probably died mid-commit in journal_mode 'memory'. Restore the "
                "file from a backup or move it away; it was left untouched",
            )

    # -- file and schema -----------------------------------------------------
    def _prepare_file(self) -> None:
        """Check the path, and create a new file with the configured permissions."""
        path = self.settings.path
        if path.is_dir():
            raise DatabaseFileError(
                path, "is a directory", "Give the path of a file inside it instead"
            )
        directory = path.parent
        if not directory.is_dir() and not self.settings.create_directory:
            raise DatabaseFileError(
                path,
                f"its directory {directory} does not exist",
                "Correct the path, create the directory, or set create_directory to "
                "true to have it created",
            )
        try:
            # each missing directory gets 0700 (mkdir(parents=True) gives the parents 0777)
            for missing in reversed([d for d in (directory, *directory.parents) if not d.exists()]):
                missing.mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            raise DatabaseFileError(
                path,
                f"its directory cannot be created ({error.strerror})",
                "Create the directory or choose a path in a writable one",
            ) from None
        if path.exists():
            self._require_access(path, os.R_OK | os.W_OK, "it is not readable and writable")
            if self.settings.journal_mode is JournalMode.WAL:
                self._require_access(
                    directory,
                    os.W_OK | os.X_OK,
                    "its directory is not writable, and WAL creates -wal and -shm "
                    "files beside the database",
                )
            return
        self._require_access(directory, os.W_OK | os.X_OK, "its directory is not writable")
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, self.settings.file_mode)
        except FileExistsError:
            return  # another process created it first
        except OSError as error:  # a file system that takes no new files, as /proc
            raise DatabaseFileError(
                path,
                f"cannot be created ({error.strerror})",
                "Choose a path on a writable file system",
            ) from None
        os.fchmod(fd, self.settings.file_mode)  # not narrowed by the umask
        os.close(fd)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION` (refuse a newer one), and record the
        journal mode in a file that has none recorded yet."""
        with self.translate_errors():
            version = self._schema_version(conn)
            if version != SCHEMA_VERSION:
                self.transact(self._migrate_in)
            # A mode already recorded was checked when the connection opened.
            if recorded_journal_mode(conn) is None:
                self.transact(
                    lambda tx: tx.execute(
                        f"INSERT OR IGNORE INTO {FILE_SETTINGS} (name, value) "
                        "VALUES ('journal_mode', ?)",
                        (self.settings.journal_mode.value,),
                    )
                )
                self._require_recorded_journal_mode(conn)  # another process may have won

    def _migrate_in(self, tx: sqlite3.Connection) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION` in the write transaction ``tx``."""
        version = self._schema_version(tx)  # another process may have migrated it
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                tx.execute(statement)
        tx.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _require_recorded_journal_mode(self, conn: sqlite3.Connection) -> None:
        """Refuse a process configured with another journal mode than the file's: the
        mode belongs to the file, and switching it under other processes breaks them."""
        recorded = recorded_journal_mode(conn)
        wanted = self.settings.journal_mode.value
        if recorded is not None and recorded != wanted:
            raise DatabaseFileError(
                self.settings.path,
                f"runs in journal mode {recorded!r}, as recorded in the file when it was "
                f"created; this process is configured with {wanted!r}",
                f"Configure journal_mode {recorded!r}, as every process of this file; the "
                "journal mode belongs to the file and is never switched under the "
                "processes that use it",
            )

    def _require_ours(self, conn: sqlite3.Connection) -> None:
        """Refuse a SQLite file that is not a pynenc-sqlite database."""
        if problem := not_ours(conn):
            raise DatabaseFileError(
                self.settings.path,
                problem,
                "Give pynenc-sqlite a file of its own; this one was left untouched",
            )

    def _schema_version(self, conn: sqlite3.Connection) -> int:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                self.settings.path,
                f"has schema version {version}, newer than version {SCHEMA_VERSION} "
                "that this pynenc-sqlite understands",
                "Upgrade pynenc-sqlite in this environment; the file was left untouched",
            )
        return int(version)

    def _require_access(self, checked: Path, mode: int, problem: str) -> None:
        if not os.access(checked, mode):
            raise DatabaseFileError(
                self.settings.path,
                problem,
                "Fix the permissions (chmod/chown) or choose a writable location",
            )


class _ErrorTranslation:
    """Context manager of :meth:`Database.translate_errors` (one per database, reentrant)."""

    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        if isinstance(error, sqlite3.Error):
            translated = self._database._translate(error)
            if translated is not None:
                raise translated from error


class _WriteTransaction:
    """Context manager of :meth:`Database.write`."""

    __slots__ = ("_conn", "_database")

    def __init__(self, database: Database) -> None:
        self._database = database

    def __enter__(self) -> sqlite3.Connection:
        conn = self._conn = self._database.connection()
        with self._database.translate_errors():
            conn.execute("BEGIN IMMEDIATE")
        return conn

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        conn, database = self._conn, self._database
        with database.translate_errors():
            try:
                if error is None:
                    conn.execute("COMMIT")
            finally:
                if conn.in_transaction:  # the body or the commit failed
                    conn.execute("ROLLBACK")
            if error is None:
                database._bound_wal(conn)
        database.translate_errors().__exit__(kind, error, _)


def not_ours(conn: sqlite3.Connection) -> str:
    """Why the file of ``conn`` is not a pynenc-sqlite database; "" when it is one.

    Ours: marked with :data:`APPLICATION_ID`; or unmarked with no tables but those of
    pynenc's own SQLite components (a new file, or one shared with them); or unmarked
    with our schema (a file of a pynenc-sqlite from before the mark).
    """
    (application_id,) = conn.execute("PRAGMA application_id").fetchone()
    if application_id == APPLICATION_ID:
        return ""
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    others = [name for name in tables if not _PYNENC_TABLE.match(name)]
    new_or_shared = version == 0 and not others
    ours_before_the_mark = version > 0 and Tables.APPS in tables
    if application_id == 0 and (new_or_shared or ours_before_the_mark):
        return ""
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    return (
        f"is a SQLite database of another program (application_id {application_id}, "
        f"tables: {shown or 'none'}), not a pynenc-sqlite database"
    )


def recorded_journal_mode(conn: sqlite3.Connection) -> str | None:
    """The journal mode recorded in the file; None before it is recorded (a new file, or
    one of a schema without the record)."""
    try:
        found = conn.execute(
            f"SELECT value FROM {FILE_SETTINGS} WHERE name = 'journal_mode'"
        ).fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return None
        raise
    return None if found is None else str(found[0])


def _primary_code(error: sqlite3.Error) -> int:
    """SQLite's primary result code of an error (extended codes carry it in the low byte)."""
    return int(getattr(error, "sqlite_errorcode", -1)) & 0xFF


@atexit.register
def _close_open_databases() -> None:
    for database in list(_OPEN_DATABASES):
        database.close()


def _leave(real_path: str) -> None:
    """A :class:`Database` of ``real_path`` is gone: drop the presence with the last."""
    held = _PRESENCE.get(real_path)
    if held is None:
        return
    held[1] -= 1
    if held[1] <= 0:
        del _PRESENCE[real_path]
        os.close(held[0])


@contextmanager
def _alone(path: Path, change: str) -> Iterator[sqlite3.Connection]:
    """A connection to the pynenc-sqlite database at ``path`` while no other process
    has it open (they wait to open it until the connection is closed), for ``change``.

    :raises DatabaseFileError: the file is in use, not ours, or of an older schema.
    """
    require_file(path)
    real_path = os.path.realpath(path)
    if real_path in _PRESENCE:
        raise DatabaseFileError(path, "is open in this process", "Run the change on its own")
    fd = os.open(real_path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseFileError(
                path,
                "is in use by another process (a runner, a client, a monitor)",
                f"Stop every process that uses it, then {change}",
            ) from None
        with closing(sqlite3.connect(real_path, timeout=0, isolation_level=None)) as conn:
            require_ours(conn, path)
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version != SCHEMA_VERSION:
                raise DatabaseFileError(
                    path,
                    f"has schema version {version}, not {SCHEMA_VERSION}",
                    "Start and stop one process of the app with this pynenc-sqlite to "
                    f"migrate it, then {change}",
                )
            try:
                yield conn
            except sqlite3.OperationalError as error:
                if _primary_code(error) not in _LOCKED_CODES:
                    raise
                raise DatabaseFileError(
                    path,
                    "is open in another program (a sqlite3 shell, a backup, pynenc-sqlite info)",
                    f"Close it, then {change}",
                ) from None
    finally:
        os.close(fd)  # and with it the exclusive lock


def require_file(path: Path) -> None:
    """:raises DatabaseFileError: ``path`` is not an existing file."""
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise DatabaseFileError(path, problem, "Give the path of the database file")


def require_ours(conn: sqlite3.Connection, path: Path) -> None:
    """:raises DatabaseFileError: the file of ``conn`` is not SQLite, or not a
    pynenc-sqlite database."""
    try:
        problem = not_ours(conn)
    except sqlite3.DatabaseError as error:
        raise DatabaseFileError(
            path, f"cannot be read as SQLite ({error})", "Give the path of the database file"
        ) from None
    if problem:
        raise DatabaseFileError(path, problem, "Give the path of a pynenc-sqlite database")


def change_journal_mode(path: Path, mode: JournalMode) -> str:
    """Switch the database at ``path`` to ``mode`` and record it; return the mode it had.

    Refused (the file untouched) while any process has the database open: every
    process must be stopped, and then started with the new mode.

    :raises DatabaseFileError: the file is in use, not ours, or of an older schema.
    """
    with _alone(path, "change the journal mode") as conn:
        before = recorded_journal_mode(conn) or str(
            conn.execute("PRAGMA journal_mode").fetchone()[0]
        )
        (now,) = conn.execute(f"PRAGMA journal_mode={mode.value}").fetchone()
        if str(now).lower() != mode.value:
            raise DatabaseFileError(
                path, f"stays in journal mode {now!r}", "Check that nothing holds it open"
            )
        conn.execute(
            f"INSERT INTO {FILE_SETTINGS} (name, value) VALUES ('journal_mode', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (mode.value,),
        )
    return before


def vacuum(path: Path) -> tuple[int, int]:
    """Rebuild the database at ``path`` without its free pages, with incremental vacuum
    from then on (a file created by an earlier pynenc-sqlite has none); return its size
    in bytes before and after.

    Refused (the file untouched) while any process has the database open.

    :raises DatabaseFileError: the file is in use, not ours, or of an older schema.
    """
    with _alone(path, "vacuum it") as conn:
        before = _file_bytes(path)
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return before, _file_bytes(path)


def _file_bytes(path: Path) -> int:
    """Bytes of the database and its WAL."""
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

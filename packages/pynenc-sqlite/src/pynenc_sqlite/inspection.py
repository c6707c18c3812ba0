"""A look inside a pynenc-sqlite database without changing it: what ``pynenc-sqlite``
shows (:mod:`pynenc_sqlite.cli`).

Every function takes a read-only connection (:func:`open_read_only`) and returns plain
data (dicts and lists) that the CLI prints as tables or as JSON.
"""

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pynenc_sqlite.database import recorded_journal_mode, require_file, require_ours
from pynenc_sqlite.exceptions import DatabaseFileError
from pynenc_sqlite.orchestrator.runners import heartbeat_age
from pynenc_sqlite.schema import (
    SCHEMA_VERSION,
    MessageTables,
    StateTables,
    Tables,
    TriggerTables,
)

#: Per app, the rows that ``info`` counts: label -> table.
COUNTED_TABLES = {
    "invocations": Tables.INVOCATIONS,
    "history": StateTables.HISTORY,
    "results": StateTables.RESULTS,
    "queued": MessageTables.BROKER_MESSAGES,
    "values": MessageTables.CLIENT_DATA,
    "events": TriggerTables.EVENTS,
    "runners": Tables.RUNNER_HEARTBEATS,
}


@contextmanager
def open_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the pynenc-sqlite database at ``path``.

    :raises DatabaseFileError: no such file, not SQLite, or not a pynenc-sqlite database.
    """
    require_file(path)
    conn = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True)
    try:
        require_ours(conn, path)
        yield conn
    finally:
        conn.close()


def _count(conn: sqlite3.Connection, sql: str, params: Sequence[object] = ()) -> int:
    (count,) = conn.execute(sql, params).fetchone()
    return int(count)


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    return bool(_count(conn, "SELECT COUNT(*) FROM sqlite_master WHERE name = ?", (table,)))


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def apps(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    if not _has_table(conn, Tables.APPS):
        return []
    rows = conn.execute(f"SELECT app_key, app_id FROM {Tables.APPS} ORDER BY app_id")
    return [(int(key), str(app_id)) for key, app_id in rows]


def _header_journal(path: Path) -> str:
    """What the file's header says: ``wal``, or ``rollback`` (delete, truncate, persist
    or memory, which SQLite does not record)."""
    with path.open("rb") as handle:
        return "wal" if handle.read(20)[18:20] == b"\x02\x02" else "rollback"


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def info(conn: sqlite3.Connection, path: Path) -> dict[str, Any]:
    """Path, journal mode, schema version, sizes, and each app's row counts."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    counted = {label: table for label, table in COUNTED_TABLES.items() if _has_table(conn, table)}
    found = []
    for key, app_id in apps(conn):
        counts = {
            label: _count(conn, f"SELECT COUNT(*) FROM {table} WHERE app_key = ?", (key,))
            for label, table in counted.items()
        }
        found.append({"app_id": app_id, **counts})
    return {
        "path": str(path.absolute()),
        "journal_mode": recorded_journal_mode(conn) or "not recorded",
        "file_header": _header_journal(path),
        "schema_version": int(version),
        "schema_version_supported": SCHEMA_VERSION,
        "file_bytes": _size(path),
        "wal_bytes": _size(path.with_name(path.name + "-wal")),
        "apps": found,
    }


def check(conn: sqlite3.Connection, path: Path) -> list[dict[str, Any]]:
    """Integrity, schema and journal mode: one ``{"check", "ok", "detail"}`` each."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    recorded = recorded_journal_mode(conn)
    header = _header_journal(path)
    header_agrees = recorded is None or (recorded == "wal") == (header == "wal")
    return [
        {"check": "integrity", "ok": problems == ["ok"], "detail": "; ".join(problems[:5])},
        {
            "check": "schema",
            "ok": version <= SCHEMA_VERSION,
            "detail": f"version {version}; this pynenc-sqlite reads up to {SCHEMA_VERSION}"
            + (
                " (older files are migrated when a process opens them)"
                if version < SCHEMA_VERSION
                else ""
            ),
        },
        {
            "check": "journal mode",
            "ok": header_agrees,
            "detail": f"recorded {recorded or 'nothing'}; the file header shows {header}",
        },
    ]


def queues(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Messages waiting, per app and queue."""
    if not _has_table(conn, MessageTables.BROKER_MESSAGES):
        return []
    rows = conn.execute(
        f"SELECT a.app_id, m.queue_name, COUNT(*) FROM {MessageTables.BROKER_MESSAGES} m "
        f"JOIN {Tables.APPS} a ON a.app_key = m.app_key "
        "GROUP BY a.app_id, m.queue_name ORDER BY a.app_id, m.queue_name"
    )
    return [{"app_id": app, "queue": queue, "messages": count} for app, queue, count in rows]


def invocations(
    conn: sqlite3.Connection,
    statuses: Sequence[str] = (),
    app_id: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Invocations, the longest in their status first: with one of ``statuses`` (any
    when empty), of ``app_id`` (any when None), at most ``limit``."""
    if not _has_table(conn, Tables.INVOCATIONS):
        return []
    where, params = ["1 = 1"], []
    if statuses:
        where.append(f"i.status IN ({', '.join('?' * len(statuses))})")
        params += [status.lower() for status in statuses]
    if app_id is not None:
        where.append("a.app_id = ?")
        params.append(app_id)
    rows = conn.execute(
        "SELECT a.app_id, i.invocation_id, i.task_id, i.status, i.owner_id, i.status_time "
        f"FROM {Tables.INVOCATIONS} i JOIN {Tables.APPS} a ON a.app_key = i.app_key "
        f"WHERE {' AND '.join(where)} ORDER BY i.status_time LIMIT ?",
        (*params, limit),
    )
    return [
        {
            "app_id": app,
            "invocation_id": invocation_id,
            "task_id": task_id,
            "status": status,
            "owner": owner,
            "since": datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
        }
        for app, invocation_id, task_id, status, owner, since in rows
    ]


def backup(conn: sqlite3.Connection, destination: Path) -> dict[str, Any]:
    """Copy the database to a new file ``destination`` with SQLite's online backup, in
    one step (a consistent snapshot while other processes write), readable by its owner
    only; then check the copy's integrity.

    :raises DatabaseFileError: ``destination`` exists, or cannot be created.
    """
    try:
        fd = os.open(destination, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise DatabaseFileError(
            destination, "exists already", "Choose a new file for the backup, or remove it"
        ) from None
    except OSError as error:
        raise DatabaseFileError(
            destination,
            f"cannot be created ({error.strerror})",
            "Choose a path in an existing, writable directory",
        ) from None
    os.close(fd)
    with closing(sqlite3.connect(destination)) as copy:
        conn.backup(copy)
        problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        (pages,) = copy.execute("PRAGMA page_count").fetchone()
    return {
        "backup": str(destination.absolute()),
        "pages": int(pages),
        "bytes": _size(destination),
        "integrity": "; ".join(problems[:5]),
    }


def stuck(
    conn: sqlite3.Connection,
    dead_after_minutes: float,
    pending_seconds: float,
    app_id: str | None = None,
) -> list[dict[str, Any]]:
    """Invocations that recovery should reach: RUNNING whose owner has sent no heartbeat
    for ``dead_after_minutes`` (pynenc's ``runner_considered_dead_after_minutes``), and
    PENDING for longer than ``pending_seconds`` (pynenc's ``max_pending_seconds``)."""
    if not _has_table(conn, Tables.INVOCATIONS):
        return []
    now = time.time()
    by_monotonic = "heartbeat_monotonic" in _columns(conn, Tables.RUNNER_HEARTBEATS)
    age, age_params = heartbeat_age("h", by_monotonic=by_monotonic)
    rows = conn.execute(
        f"SELECT a.app_id, i.invocation_id, i.task_id, i.status, i.owner_id, i.status_time, "
        f"{age} FROM {Tables.INVOCATIONS} i JOIN {Tables.APPS} a ON a.app_key = i.app_key "
        f"LEFT JOIN {Tables.RUNNER_HEARTBEATS} h "
        "ON h.app_key = i.app_key AND h.runner_id = i.owner_id "
        "WHERE (? IS NULL OR a.app_id = ?) AND ((i.status = 'running' AND "
        f"(h.runner_id IS NULL OR {age} > ?)) "
        "OR (i.status = 'pending' AND i.status_time < ?)) "
        "ORDER BY i.status_time",
        (
            *age_params,
            app_id,
            app_id,
            *age_params,
            dead_after_minutes * 60,
            now - pending_seconds,
        ),
    )
    found = []
    for app, invocation_id, task_id, status, owner, since, seconds_since_heartbeat in rows:
        if status == "pending":
            why = f"pending for {now - since:.0f} s"
        elif seconds_since_heartbeat is None:
            why = f"its owner {owner} has no heartbeat"
        else:
            why = f"its owner {owner} was last seen {seconds_since_heartbeat / 60:.1f} min ago"
        found.append(
            {
                "app_id": app,
                "invocation_id": invocation_id,
                "task_id": task_id,
                "status": status,
                "why": why,
            }
        )
    return found

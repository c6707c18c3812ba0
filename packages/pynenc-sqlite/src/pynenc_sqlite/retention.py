"""Retention: final invocations, with everything stored about them, are removed once
they are older than a period, and the freed pages go back to the file system.

One purge serves pynenc's ``auto_purge``, the pass that the stack runs by itself
(from the atomic service, see :meth:`Retention.pass_if_due`) and the CLI's ``purge``.
An invocation is final when the orchestrator marked it (``auto_purge_time``, set with
its final status). Removed with it: its arguments, blocking edges and queued
messages; its state (call, history, results, workflow run and data); the trigger
runs it was started by, and the links that name it. Client data values (large
arguments and results, stored once by content) are shared: a value goes only when
it was not stored again within the period and no remaining row names it. Events
and trigger runs otherwise follow the trigger's own retention settings. Runners
without a heartbeat for the period go too (each runner start adds one).
"""

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from pynenc.serializer.constants import ReservedKeys

from pynenc_sqlite.conf.config_database import SHARED_SECTION, ConfigPynencSQLite, DatabaseSettings
from pynenc_sqlite.database import Database
from pynenc_sqlite.rows import AppRows, placeholders
from pynenc_sqlite.schema import MessageTables, StateTables, Tables, TriggerTables

S = StateTables
G = TriggerTables

#: ``PRAGMA auto_vacuum`` value of incremental vacuum.
INCREMENTAL = 2
#: Invocations removed per write transaction: other writers wait at most one batch.
BATCH = 500

#: ``(table, column)`` of every row that may name client data values.
_VALUE_REFERENCES = (
    (Tables.INVOCATION_ARGS, "arg_value"),
    (S.INVOCATIONS, "serialized_arguments"),
    (S.RESULTS, "data"),
    (S.WORKFLOW_DATA, "data_value"),
    (G.CONDITIONS, "condition_json"),
    (G.VALID_CONDITIONS, "valid_condition_json"),
    (G.DEFINITIONS, "argument_provider_json"),
    (G.EVENTS, "event_json"),
    (G.RUNS, "run_json"),
)
_VALUE_PREFIX = f"{ReservedKeys.CLIENT_DATA.value}:"
_VALUE_KEY = re.compile(re.escape(_VALUE_PREFIX) + "[0-9a-f]{64}")

#: What one batch deletes: ``{ids}`` stands for the batch's invocation ids, bound after
#: every app key. Runs and their links go before the invocations they name.
_DELETE_BATCH = (
    f"DELETE FROM {G.RUN_LINKS} WHERE app_key = ? AND trigger_run_id IN "
    f"(SELECT trigger_run_id FROM {G.RUNS} WHERE app_key = ? "
    "AND triggered_invocation_id IN ({ids}))",
    f"DELETE FROM {G.RUNS} WHERE app_key = ? AND triggered_invocation_id IN ({{ids}})",
    f"DELETE FROM {G.RUN_LINKS} WHERE app_key = ? AND kind = 'source' AND ref IN ({{ids}})",
    f"DELETE FROM {MessageTables.BROKER_MESSAGES} WHERE app_key = ? AND invocation_id IN ({{ids}})",
    f"DELETE FROM {Tables.INVOCATION_ARGS} WHERE app_key = ? AND invocation_id IN ({{ids}})",
    f"DELETE FROM {Tables.BLOCKING_EDGES} WHERE app_key = ? "
    "AND (waiter_id IN ({ids}) OR waited_id IN ({ids}))",
    f"DELETE FROM {S.HISTORY} WHERE app_key = ? AND invocation_id IN ({{ids}})",
    f"DELETE FROM {S.RESULTS} WHERE app_key = ? AND invocation_id IN ({{ids}})",
    f"DELETE FROM {S.WORKFLOW_DATA} WHERE app_key = ? AND workflow_id IN ({{ids}})",
    f"DELETE FROM {S.WORKFLOW_SUB_INVOCATIONS} WHERE app_key = ? AND workflow_id IN ({{ids}})",
    f"DELETE FROM {S.WORKFLOWS} WHERE app_key = ? AND workflow_id IN ({{ids}})",
    f"DELETE FROM {S.INVOCATIONS} WHERE app_key = ? AND invocation_id IN ({{ids}})",
    f"DELETE FROM {Tables.INVOCATIONS} WHERE app_key = ? AND invocation_id IN ({{ids}})",
)


@dataclass(frozen=True)
class Purged:
    """What one purge removed."""

    invocations: int
    values: int
    #: Runners without a heartbeat for the period (one row per runner start).
    runners: int
    #: Pages given back to the file system (0 in a file without incremental vacuum).
    pages_freed: int
    #: Whether final invocations older than the period are left (a pass ran out of time).
    more: bool


class Retention:
    """Removal of one app's final invocations older than a period."""

    def __init__(self, rows: AppRows) -> None:
        self.rows = rows

    def purge(self, older_than_seconds: float, seconds_budget: float | None = None) -> Purged:
        """Remove the final invocations marked more than ``older_than_seconds`` ago,
        ``BATCH`` per transaction, until none is left or ``seconds_budget`` has passed
        (None: no limit); then the values that nothing names any more, and free pages."""
        cutoff = time.time() - older_than_seconds
        deadline = None if seconds_budget is None else time.monotonic() + seconds_budget
        removed = 0
        while True:
            batch = self._remove_batch(cutoff)
            removed += batch
            more = batch == BATCH
            if not more or (deadline is not None and time.monotonic() >= deadline):
                break
        values = self._remove_unnamed_values(cutoff)
        runners = self.rows.database.write_one(
            f"DELETE FROM {Tables.RUNNER_HEARTBEATS} WHERE app_key = ? AND last_heartbeat < ? "
            "RETURNING runner_id",
            (self.rows.app_key, cutoff),
        )
        return Purged(removed, values, len(runners), self._free_pages(), more)

    def pass_if_due(
        self, interval_seconds: float, older_than_seconds: float, seconds_budget: float
    ) -> Purged | None:
        """Run :meth:`purge` when this app's pass is due, in one process of the file at a
        time; None when it is not due. A pass that ran out of time is due again at once."""
        now = time.time()
        key = self.rows.app_key
        planned = self.rows.fetch(
            f"SELECT next_pass FROM {Tables.RETENTION} WHERE app_key = ?", (key,)
        )
        if planned and planned[0][0] > now:
            return None  # read first: most atomic-service runs find no pass due

        def claim(tx: sqlite3.Connection) -> int:
            tx.execute(
                f"INSERT OR IGNORE INTO {Tables.RETENTION} (app_key, next_pass) VALUES (?, 0)",
                (key,),
            )
            return tx.execute(
                f"UPDATE {Tables.RETENTION} SET next_pass = ? WHERE app_key = ? AND next_pass <= ?",
                (now + interval_seconds, key, now),
            ).rowcount

        if not self.rows.database.transact(claim):
            return None
        purged = self.purge(older_than_seconds, seconds_budget)
        if purged.more:
            self.rows.database.write_one(
                f"UPDATE {Tables.RETENTION} SET next_pass = 0 WHERE app_key = ?", (key,)
            )
        return purged

    def _remove_batch(self, cutoff: float) -> int:
        key = self.rows.app_key

        def remove(tx: sqlite3.Connection) -> int:
            ids = [
                row[0]
                for row in tx.execute(
                    f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE app_key = ? "
                    "AND auto_purge_time IS NOT NULL AND auto_purge_time <= ? LIMIT ?",
                    (key, cutoff, BATCH),
                )
            ]
            if ids:
                marks = placeholders(ids)
                for statement in _DELETE_BATCH:
                    params = [key] * statement.count("app_key = ?") + ids * statement.count("{ids}")
                    tx.execute(statement.format(ids=marks), params)
            return len(ids)

        return self.rows.database.transact(remove)

    def _remove_unnamed_values(self, cutoff: float) -> int:
        """Remove the client data values not stored since ``cutoff`` that no row names."""
        key = self.rows.app_key

        def remove(tx: sqlite3.Connection) -> int:
            stale = {
                row[0]
                for row in tx.execute(
                    f"SELECT data_key FROM {MessageTables.CLIENT_DATA} "
                    "WHERE app_key = ? AND stored_time < ?",
                    (key, cutoff),
                )
            }
            if not stale:
                return 0
            unnamed = sorted(stale - _named_values(tx, key))
            for start in range(0, len(unnamed), BATCH):
                chunk = unnamed[start : start + BATCH]
                tx.execute(
                    f"DELETE FROM {MessageTables.CLIENT_DATA} WHERE app_key = ? "
                    f"AND data_key IN ({placeholders(chunk)})",
                    (key, *chunk),
                )
            return len(unnamed)

        return self.rows.database.transact(remove)

    def _free_pages(self) -> int:
        """Give the free pages back to the file system (incremental vacuum)."""
        with self.rows.database.translate_errors():
            conn = self.rows.database.connection()
            (before,) = conn.execute("PRAGMA freelist_count").fetchone()
            (mode,) = conn.execute("PRAGMA auto_vacuum").fetchone()
            if not before or mode != INCREMENTAL:
                return 0
            conn.execute("PRAGMA incremental_vacuum").fetchall()
            (after,) = conn.execute("PRAGMA freelist_count").fetchone()
        return int(before) - int(after)


def purge_app(path: Path, journal_mode: str, app_id: str, older_than_seconds: float) -> Purged:
    """Purge the final invocations of ``app_id`` (already in the file) older than
    ``older_than_seconds`` in the database at ``path`` (the CLI's ``purge``), with the
    default settings but the file's ``journal_mode``; other processes may go on."""
    settings = {"sqlite_db_path": str(path), "journal_mode": journal_mode}
    conf = ConfigPynencSQLite(config_values={SHARED_SECTION: settings})
    database = Database(DatabaseSettings.from_config(conf, app_id))
    try:
        return Retention(AppRows.of_app(database, app_id)).purge(older_than_seconds)
    finally:
        database.close()


def _named_values(conn: sqlite3.Connection, app_key: int) -> set[str]:
    """Every client data key that a row of the app names."""
    named: set[str] = set()
    for table, column in _VALUE_REFERENCES:
        for (text,) in conn.execute(
            f"SELECT {column} FROM {table} WHERE app_key = ? AND instr({column}, ?) > 0",
            (app_key, _VALUE_PREFIX),
        ):
            named.update(_VALUE_KEY.findall(text))
    return named

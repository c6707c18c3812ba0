"""One app's rows in a shared database file, and how values are stored: what every
component shares."""

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus

from pynenc_sqlite.conf.config_database import ConfigPynencSQLite, DatabaseSettings
from pynenc_sqlite.database import Database
from pynenc_sqlite.schema import SCHEMA_VERSION, Tables

if TYPE_CHECKING:
    from pynenc.app import Pynenc

_STATUS_BY_VALUE = {status.value: status for status in InvocationStatus}


@dataclass(frozen=True)
class AppRows:
    """One app's rows in a shared database: every statement binds ``app_key``."""

    database: Database
    app_key: int
    app_id: str

    @classmethod
    def of_app(cls, database: Database, app_id: str) -> "AppRows":
        """The rows of ``app_id``, registering the app in the file on first use.

        An app already in the file is only read: a component that pynenc builds lazily,
        inside another component's write transaction, opens no second one.
        """
        query = f"SELECT app_key FROM {Tables.APPS} WHERE app_id = ?"
        with database.translate_errors():
            found = database.connection().execute(query, (app_id,)).fetchone()
        if found is None:

            def register(tx: sqlite3.Connection) -> Any:
                tx.execute(f"INSERT OR IGNORE INTO {Tables.APPS} (app_id) VALUES (?)", (app_id,))
                return tx.execute(query, (app_id,)).fetchone()

            found = database.transact(register)
        return cls(database, int(found[0]), app_id)

    def delete_all(self, tables: Sequence[str]) -> None:
        """Delete this app's rows of ``tables`` in one transaction; other apps' stay."""

        def delete(tx: sqlite3.Connection) -> None:
            for table in tables:
                tx.execute(f"DELETE FROM {table} WHERE app_key = ?", (self.app_key,))

        self.database.transact(delete)

    def fetch(self, query: str, params: Sequence[object]) -> list[Any]:
        """Run a read-only statement and return all rows (no cursor stays open)."""
        with self.database.translate_errors():
            return self.database.connection().execute(query, params).fetchall()

    def unknown(self, invocation_id: str) -> KeyError:
        """The error for an invocation that this app did not register."""
        return KeyError(f"invocation {invocation_id!r} is not registered in app {self.app_id!r}")


def open_rows(app: "Pynenc", conf: ConfigPynencSQLite) -> AppRows:
    """A component's rows of ``app``, on the database of the app's orchestrator when it
    is pynenc-sqlite's on the same file with the same settings (so that they write in
    one transaction), else on a database of its own.

    :raises SQLiteConfigurationError: a setting in ``conf`` is not valid.
    """
    settings = DatabaseSettings.from_config(conf, app.app_id)
    database = getattr(app.orchestrator, "database", None)
    if not isinstance(database, Database) or database.settings != settings:
        database = open_database(app, settings)
    return AppRows.of_app(database, app.app_id)


def open_database(app: "Pynenc", settings: DatabaseSettings) -> Database:
    """Open the database of ``settings`` for ``app``, and say in the app's log which
    file it is and the settings in force."""
    database = Database(settings)
    app.logger.info(
        f"pynenc-sqlite database {settings.path}: journal mode {settings.journal_mode.value}, "
        f"schema {SCHEMA_VERSION}, busy timeout {settings.busy_timeout_seconds:g} s"
    )
    return database


class OnDatabase:
    """What a component on the database layer exposes: its database, file and close()."""

    rows: AppRows

    @property
    def database(self) -> Database:
        """The database this component writes to."""
        return self.rows.database

    @property
    def sqlite_db_path(self) -> str:
        """Path of the database file."""
        return str(self.rows.database.settings.path)

    def close(self) -> None:
        """Close this process's connections; the next call opens new ones."""
        self.rows.database.close()


def placeholders(values: Sequence[object]) -> str:
    """``?,?,...``: one parameter per value."""
    return ",".join("?" * len(values))


def invocation_ids(rows: list[Any]) -> list[InvocationId]:
    """The first column of ``rows`` as invocation ids."""
    return [InvocationId(row[0]) for row in rows]


def epoch(moment: datetime) -> float:
    """Stored form of a time: seconds since the epoch."""
    return moment.timestamp()


def utc(seconds: float) -> datetime:
    """A stored time as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def status_of(value: str) -> InvocationStatus:
    """The status stored as ``value`` (ValueError for one this pynenc does not know)."""
    return _STATUS_BY_VALUE.get(value) or InvocationStatus(value)

"""One app's rows in a shared database file, and how values are stored: what every
component shares."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus

from pynenc_sqlite.database import Database
from pynenc_sqlite.schema import Tables

_STATUS_BY_VALUE = {status.value: status for status in InvocationStatus}


@dataclass(frozen=True)
class AppRows:
    """One app's rows in a shared database: every statement binds ``app_key``."""

    database: Database
    app_key: int
    app_id: str

    @classmethod
    def of_app(cls, database: Database, app_id: str) -> "AppRows":
        """The rows of ``app_id``, registering the app in the file on first use."""
        with database.write() as tx:
            tx.execute(f"INSERT OR IGNORE INTO {Tables.APPS} (app_id) VALUES (?)", (app_id,))
            (key,) = tx.execute(
                f"SELECT app_key FROM {Tables.APPS} WHERE app_id = ?", (app_id,)
            ).fetchone()
        return cls(database, int(key), app_id)

    def fetch(self, query: str, params: Sequence[object]) -> list[Any]:
        """Run a read-only statement and return all rows (no cursor stays open)."""
        with self.database.translate_errors():
            return self.database.connection().execute(query, params).fetchall()

    def unknown(self, invocation_id: str) -> KeyError:
        """The error for an invocation that this app did not register."""
        return KeyError(f"invocation {invocation_id!r} is not registered in app {self.app_id!r}")


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

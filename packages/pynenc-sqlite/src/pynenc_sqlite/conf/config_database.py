"""Database settings shared by every pynenc-sqlite component, validated once at construction.

Each component's config class adds its own section on top of
:class:`ConfigPynencSQLite`: a value in the shared ``pynencsqlite`` section applies
to every component, and a component's own section (``orchestratorpynencsqlite``,
``statebackendpynencsqlite``) overrides it for that component.
"""

import hashlib
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cistell import ConfigField
from pynenc.conf.config_sqlite import ConfigSQLite

from pynenc_sqlite.exceptions import SQLiteConfigurationError


class JournalMode(StrEnum):
    """SQLite journal modes the orchestrator accepts (``OFF`` is refused)."""

    WAL = "wal"
    DELETE = "delete"
    TRUNCATE = "truncate"
    PERSIST = "persist"
    MEMORY = "memory"


class SynchronousLevel(StrEnum):
    """Values of ``PRAGMA synchronous``."""

    OFF = "off"
    NORMAL = "normal"
    FULL = "full"
    EXTRA = "extra"


class ConfigPynencSQLite(ConfigSQLite):
    """Database settings of pynenc-sqlite's components.

    In a config file the shared section is ``pynencsqlite``; as environment
    variables ``PYNENC__CONFIGPYNENCSQLITE__<FIELD>``.

    :cvar sqlite_db_path: database file; empty means a per-app default under
        ``$XDG_STATE_HOME/pynenc-sqlite`` (``~/.local/state/pynenc-sqlite``).
    :cvar journal_mode: wal, delete, truncate, persist or memory.
    :cvar synchronous: off, normal, full or extra.
    :cvar busy_timeout_seconds: how long a call waits for another writer's lock.
    :cvar file_mode: octal permissions of a database file this package creates.
    :cvar wal_autocheckpoint_pages: WAL pages that trigger an automatic checkpoint.
    :cvar create_directory: create the file's directory (mode 0700) when it is
        missing; otherwise a missing directory is an error (a mistyped path would
        silently start a new, empty database). The per-app default is always created.
    """

    journal_mode = ConfigField(JournalMode.WAL.value)
    synchronous = ConfigField(SynchronousLevel.NORMAL.value)
    busy_timeout_seconds = ConfigField(30.0)
    file_mode = ConfigField("0600")
    wal_autocheckpoint_pages = ConfigField(1000)
    create_directory = ConfigField(False)


#: The section of settings shared by every component.
SHARED_SECTION = "pynencsqlite"

_REFUSED_JOURNAL_MODES = {
    "off": (
        "journal_mode 'off' is refused: without a rollback journal a crash or a "
        "failed statement in the middle of a transaction corrupts the database"
    ),
}


#: What a valid value of each field looks like: the fix named in every error.
_EXPECTED = {
    "sqlite_db_path": "give the path of a file (empty for the per-app default)",
    "journal_mode": f"choose one of {', '.join(mode.value for mode in JournalMode)}",
    "synchronous": f"choose one of {', '.join(level.value for level in SynchronousLevel)}",
    "busy_timeout_seconds": "give a number of seconds greater than 0 and at most 3600 (default 30)",
    "file_mode": "give octal permissions that let the owner read and write, such as "
    "'0600' (default) or '0640'",
    "wal_autocheckpoint_pages": "give a positive number of pages (default 1000)",
    "create_directory": "give true or false (default false)",
}


def _invalid(name: str, value: object, problem: str = "is not valid") -> SQLiteConfigurationError:
    return SQLiteConfigurationError(f"{name} {value!r} {problem}; {_EXPECTED[name]}")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """Validated connection settings shared by every connection to one database."""

    path: Path
    journal_mode: JournalMode
    synchronous: SynchronousLevel
    busy_timeout_seconds: float
    file_mode: int
    wal_autocheckpoint_pages: int
    #: Whether a missing directory of ``path`` is created.
    create_directory: bool

    @classmethod
    def from_config(cls, conf: ConfigPynencSQLite, app_id: str) -> "DatabaseSettings":
        """Validate ``conf``; raise :class:`SQLiteConfigurationError` on a bad value."""
        return cls(
            path=_database_path(conf.sqlite_db_path, app_id),
            journal_mode=_journal_mode(conf.journal_mode),
            synchronous=_choice(SynchronousLevel, "synchronous", conf.synchronous),
            busy_timeout_seconds=_busy_timeout(conf.busy_timeout_seconds),
            file_mode=_file_mode(conf.file_mode),
            wal_autocheckpoint_pages=_wal_autocheckpoint(conf.wal_autocheckpoint_pages),
            create_directory=not conf.sqlite_db_path
            or _flag("create_directory", conf.create_directory),
        )


def load_config[C: ConfigPynencSQLite](
    config_class: type[C], config_values: dict[str, Any] | None, config_filepath: str | None
) -> C:
    """Read a component's settings; a value of the wrong type becomes a clear error."""
    try:
        return config_class(config_values=config_values, config_filepath=config_filepath)
    except (TypeError, ValueError) as error:
        expected = "; ".join(f"{name}: {hint}" for name, hint in _EXPECTED.items())
        section = config_class.__name__.removeprefix("Config").lower()
        raise SQLiteConfigurationError(
            f"the {section} settings could not be read ({error}). Expected: {expected}"
        ) from None


def default_database_path(app_id: str) -> Path:
    """Per-app default file: the same for every process of one app and user."""
    state_home = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", app_id)[:64] or "app"
    digest = hashlib.sha256(app_id.encode()).hexdigest()[:12]
    return Path(state_home) / "pynenc-sqlite" / f"{slug}-{digest}.sqlite3"


def _database_path(text: str, app_id: str) -> Path:
    if not text:
        return default_database_path(app_id)
    if text == ":memory:" or text.startswith("file:"):
        raise _invalid(
            "sqlite_db_path",
            text,
            "is not a file path: an in-memory or URI database cannot be shared between processes",
        )
    return Path(text).expanduser().absolute()


def _journal_mode(value: object) -> JournalMode:
    text = str(value).strip().lower()
    if text in _REFUSED_JOURNAL_MODES:
        raise SQLiteConfigurationError(
            f"{_REFUSED_JOURNAL_MODES[text]}; {_EXPECTED['journal_mode']}"
        )
    return _choice(JournalMode, "journal_mode", text)


def _choice[E: StrEnum](enum: type[E], name: str, value: object) -> E:
    text = str(value).strip().lower()
    try:
        return enum(text)
    except ValueError:
        raise _invalid(name, value) from None


def _busy_timeout(seconds: float) -> float:
    if not 0 < seconds <= 3600:
        raise _invalid("busy_timeout_seconds", seconds)
    return seconds


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _invalid(name, value)
    return value


def _file_mode(value: object) -> int:
    text = str(value).strip()
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0o600 <= mode <= 0o777 or mode & 0o600 != 0o600:
        raise _invalid("file_mode", value)
    return mode


def _wal_autocheckpoint(pages: int) -> int:
    if pages < 1:
        raise _invalid("wal_autocheckpoint_pages", pages)
    return pages

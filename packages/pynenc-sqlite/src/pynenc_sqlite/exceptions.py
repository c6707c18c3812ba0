"""Errors raised by pynenc-sqlite's components: each names the problem and the fix."""

from pathlib import Path


class SQLiteOrchestratorError(Exception):
    """Base class of every error this package raises on purpose."""


class SQLiteConfigurationError(SQLiteOrchestratorError, ValueError):
    """A configuration value is invalid; nothing was opened or written."""


class DatabaseFileError(SQLiteOrchestratorError):
    """The database file or its directory cannot be used as configured."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"pynenc-sqlite database {self.path!r}: {problem}. {fix}")


class SchemaVersionError(DatabaseFileError):
    """The database was written by a newer version of pynenc-sqlite."""


class DatabaseLockedError(SQLiteOrchestratorError):
    """Another connection held the database lock for longer than the busy timeout."""

    def __init__(self, path: Path | str, busy_timeout_seconds: float) -> None:
        self.path = str(path)
        self.busy_timeout_seconds = busy_timeout_seconds
        super().__init__(
            f"pynenc-sqlite database {self.path!r} stayed locked for more than "
            f"the busy timeout of {busy_timeout_seconds:g}s. Another process holds a "
            "long write transaction; end it, or raise busy_timeout_seconds."
        )


class DatabaseFullError(SQLiteOrchestratorError):
    """The database could not grow: disk full or the page limit reached."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        super().__init__(
            f"pynenc-sqlite database {self.path!r} is full (no disk space left, "
            "or PRAGMA max_page_count reached). The last operation was rolled back; "
            "free space or purge finished invocations, then retry."
        )

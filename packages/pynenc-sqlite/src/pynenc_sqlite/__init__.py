"""pynenc-sqlite: a SQLite orchestrator for pynenc, shared by the processes of one host."""

from pynenc_sqlite.conf.config_orchestrator import (
    ConfigOrchestratorPynencSQLite,
    JournalMode,
    SynchronousLevel,
    default_database_path,
)
from pynenc_sqlite.exceptions import (
    DatabaseFileError,
    DatabaseFullError,
    DatabaseLockedError,
    SchemaVersionError,
    SQLiteConfigurationError,
    SQLiteOrchestratorError,
)
from pynenc_sqlite.orchestrator.sqlite_orchestrator import (
    PynencSQLiteOrchestrator,
    SQLiteBlockingControl,
    SQLiteOrchestrator,
    Tables,
)
from pynenc_sqlite.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "ConfigOrchestratorPynencSQLite",
    "DatabaseFileError",
    "DatabaseFullError",
    "DatabaseLockedError",
    "JournalMode",
    "PynencSQLiteOrchestrator",
    "SQLiteBlockingControl",
    "SQLiteConfigurationError",
    "SQLiteOrchestrator",
    "SQLiteOrchestratorError",
    "SchemaVersionError",
    "SynchronousLevel",
    "Tables",
    "default_database_path",
]

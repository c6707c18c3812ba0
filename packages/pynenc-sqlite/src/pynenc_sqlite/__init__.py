"""pynenc-sqlite: SQLite components for pynenc, shared by the processes of one host."""

from pynenc_sqlite.broker.sqlite_broker import PynencSQLiteBroker
from pynenc_sqlite.client_data_store.sqlite_client_data_store import PynencSQLiteClientDataStore
from pynenc_sqlite.conf.config_database import (
    ConfigPynencSQLite,
    JournalMode,
    SynchronousLevel,
    default_database_path,
)
from pynenc_sqlite.conf.config_orchestrator import ConfigOrchestratorPynencSQLite
from pynenc_sqlite.conf.config_trigger import ConfigTriggerPynencSQLite
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
from pynenc_sqlite.state_backend.sqlite_state_backend import PynencSQLiteStateBackend
from pynenc_sqlite.trigger.sqlite_trigger import PynencSQLiteTrigger

__all__ = [
    "SCHEMA_VERSION",
    "ConfigOrchestratorPynencSQLite",
    "ConfigPynencSQLite",
    "ConfigTriggerPynencSQLite",
    "DatabaseFileError",
    "DatabaseFullError",
    "DatabaseLockedError",
    "JournalMode",
    "PynencSQLiteBroker",
    "PynencSQLiteClientDataStore",
    "PynencSQLiteOrchestrator",
    "PynencSQLiteStateBackend",
    "PynencSQLiteTrigger",
    "SQLiteBlockingControl",
    "SQLiteConfigurationError",
    "SQLiteOrchestrator",
    "SQLiteOrchestratorError",
    "SchemaVersionError",
    "SynchronousLevel",
    "Tables",
    "default_database_path",
]

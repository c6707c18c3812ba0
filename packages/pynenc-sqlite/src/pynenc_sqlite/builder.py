"""Builder methods that pynenc's ``PynencBuilder`` gains when this package is installed."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from pynenc_sqlite.broker.sqlite_broker import PynencSQLiteBroker
from pynenc_sqlite.client_data_store.sqlite_client_data_store import PynencSQLiteClientDataStore
from pynenc_sqlite.conf.config_database import (
    SHARED_SECTION,
    ConfigPynencSQLite,
    DatabaseSettings,
    load_config,
)
from pynenc_sqlite.conf.config_orchestrator import CONFIG_SECTION, ConfigOrchestratorPynencSQLite
from pynenc_sqlite.orchestrator.sqlite_orchestrator import PynencSQLiteOrchestrator
from pynenc_sqlite.state_backend.sqlite_state_backend import PynencSQLiteStateBackend
from pynenc_sqlite.trigger.sqlite_trigger import PynencSQLiteTrigger

if TYPE_CHECKING:
    from pynenc.builder import PynencBuilder


class SQLiteBuilderPlugin:
    """Entry point of the ``pynenc.plugins`` group that registers the builder methods."""

    @staticmethod
    def register_builder_methods(builder_class: "type[PynencBuilder]") -> None:
        builder_class.register_plugin_method("sqlite_orchestrator", sqlite_orchestrator)
        builder_class.register_plugin_method("sqlite_stack", sqlite_stack)


def _selector(
    config_class: type[ConfigPynencSQLite],
    section: str,
    classes: dict[str, type],
    doc: str,
) -> "Callable[..., PynencBuilder]":
    """A builder method selecting ``classes`` (config key -> class) with the database
    settings in ``section``; bad values fail when it is called, not at first use."""

    def select(
        builder: "PynencBuilder",
        sqlite_db_path: str | None = None,
        *,
        journal_mode: str = "wal",
        synchronous: str = "normal",
        busy_timeout_seconds: float = 30.0,
        file_mode: str = "0600",
        wal_autocheckpoint_pages: int = 1000,
        create_directory: bool = False,
    ) -> "PynencBuilder":
        values: dict[str, object] = {
            "journal_mode": journal_mode,
            "synchronous": synchronous,
            "busy_timeout_seconds": busy_timeout_seconds,
            "file_mode": file_mode,
            "wal_autocheckpoint_pages": wal_autocheckpoint_pages,
            "create_directory": create_directory,
        }
        if sqlite_db_path is not None:
            values["sqlite_db_path"] = str(sqlite_db_path)
        _set_section(builder, config_class, section, values)
        builder._config.update({key: cls.__name__ for key, cls in classes.items()})
        return builder

    select.__doc__ = doc
    return select


sqlite_orchestrator = _selector(
    ConfigOrchestratorPynencSQLite,
    CONFIG_SECTION,
    {"orchestrator_cls": PynencSQLiteOrchestrator},
    """Use :class:`PynencSQLiteOrchestrator`; bad values fail here, not at first use.

    ``sqlite_db_path`` defaults to the path already given to ``.sqlite(path)``,
    else to a per-app file (see :func:`pynenc_sqlite.default_database_path`).
    """,
)
sqlite_stack = _selector(
    ConfigPynencSQLite,
    SHARED_SECTION,
    {
        "orchestrator_cls": PynencSQLiteOrchestrator,
        "state_backend_cls": PynencSQLiteStateBackend,
        "broker_cls": PynencSQLiteBroker,
        "client_data_store_cls": PynencSQLiteClientDataStore,
        "trigger_cls": PynencSQLiteTrigger,
    },
    """Use every pynenc-sqlite component, in one file: orchestrator, state backend,
    broker, client data store and trigger. Bad values fail here.

    The settings go to the shared ``pynencsqlite`` section; ``sqlite_db_path``
    defaults as for ``sqlite_orchestrator``. The components share one database (one
    connection per thread), and a status change and its history entry are written in
    one transaction.
    """,
)


def _set_section(
    builder: "PynencBuilder",
    config_class: type[ConfigPynencSQLite],
    section: str,
    values: dict[str, object],
) -> None:
    """Merge ``values`` into ``config_class``'s section after validating the result."""
    merged = {**builder._config.get(section, {}), **values}
    config = {**builder._config, section: merged}
    conf = load_config(config_class, config, None)
    DatabaseSettings.from_config(conf, str(config.get("app_id", "pynenc")))
    builder._config[section] = merged

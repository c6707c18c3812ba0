"""Builder methods that pynenc's ``PynencBuilder`` gains when this package is installed."""

from typing import TYPE_CHECKING

from pynenc_sqlite.conf.config_orchestrator import (
    CONFIG_SECTION,
    DatabaseSettings,
    load_config,
)
from pynenc_sqlite.orchestrator.sqlite_orchestrator import PynencSQLiteOrchestrator

if TYPE_CHECKING:
    from pynenc.builder import PynencBuilder


class SQLiteBuilderPlugin:
    """Entry point of the ``pynenc.plugins`` group that registers the builder methods."""

    @staticmethod
    def register_builder_methods(builder_class: "type[PynencBuilder]") -> None:
        builder_class.register_plugin_method("sqlite_orchestrator", sqlite_orchestrator)


def sqlite_orchestrator(
    builder: "PynencBuilder",
    sqlite_db_path: str | None = None,
    *,
    journal_mode: str = "wal",
    synchronous: str = "normal",
    busy_timeout_seconds: float = 30.0,
    file_mode: str = "0600",
    wal_autocheckpoint_pages: int = 1000,
) -> "PynencBuilder":
    """Use :class:`PynencSQLiteOrchestrator`; bad values fail here, not at first use.

    ``sqlite_db_path`` defaults to the path already given to ``.sqlite(path)``,
    else to a per-app file (see :func:`pynenc_sqlite.default_database_path`).
    """
    values: dict[str, object] = {
        "journal_mode": journal_mode,
        "synchronous": synchronous,
        "busy_timeout_seconds": busy_timeout_seconds,
        "file_mode": file_mode,
        "wal_autocheckpoint_pages": wal_autocheckpoint_pages,
    }
    if sqlite_db_path is not None:
        values["sqlite_db_path"] = str(sqlite_db_path)
    section = {**builder._config.get(CONFIG_SECTION, {}), **values}
    config = {**builder._config, CONFIG_SECTION: section}
    DatabaseSettings.from_config(load_config(config, None), str(config.get("app_id", "pynenc")))
    builder._config[CONFIG_SECTION] = section
    builder._config["orchestrator_cls"] = PynencSQLiteOrchestrator.__name__
    return builder

"""A pynenc client data store on SQLite for several processes on one host.

Selected in pynenc's config as ``PynencSQLiteClientDataStore`` (pynenc has its own
``SQLiteClientDataStore``): large serialized arguments and results, stored by key.
"""

from functools import cached_property
from typing import TYPE_CHECKING

from pynenc.client_data_store.base_client_data_store import BaseClientDataStore

from pynenc_sqlite.conf.config_client_data_store import ConfigClientDataStorePynencSQLite
from pynenc_sqlite.conf.config_database import load_config
from pynenc_sqlite.database import NOW_SQL
from pynenc_sqlite.rows import OnDatabase, open_rows
from pynenc_sqlite.schema import MessageTables

if TYPE_CHECKING:
    from pynenc.app import Pynenc

__all__ = ["PynencSQLiteClientDataStore"]

_DATA = MessageTables.CLIENT_DATA


class PynencSQLiteClientDataStore(OnDatabase, BaseClientDataStore):
    """Values by key in one SQLite file shared by the processes of a host."""

    def __init__(self, app: "Pynenc") -> None:
        super().__init__(app)
        self.rows = open_rows(app, self.conf)

    @cached_property
    def conf(self) -> ConfigClientDataStorePynencSQLite:
        return load_config(
            ConfigClientDataStorePynencSQLite, self.app.config_values, self.app.config_filepath
        )

    def _store(self, key: str, value: str) -> None:
        """Store ``value`` once per key; storing it again refreshes the time retention
        keeps it from (see :mod:`pynenc_sqlite.retention`)."""
        self.database.write_one(
            f"INSERT INTO {_DATA} (app_key, data_key, data_value, stored_time) "
            f"VALUES (?, ?, ?, {NOW_SQL}) "
            "ON CONFLICT (app_key, data_key) DO UPDATE SET stored_time = excluded.stored_time",
            (self.rows.app_key, key, value),
        )

    def _retrieve(self, key: str) -> str:
        """:raises KeyError: nothing is stored under ``key``."""
        found = self.rows.fetch(
            f"SELECT data_value FROM {_DATA} WHERE app_key = ? AND data_key = ?",
            (self.rows.app_key, key),
        )
        if not found:
            raise KeyError(f"key {key!r} not found in the client data store")
        return str(found[0][0])

    def _purge(self) -> None:
        self.rows.delete_all((_DATA,))

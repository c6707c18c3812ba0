"""Configuration of the SQLite client data store."""

from pynenc.conf.config_client_data_store import ConfigClientDataStore

from pynenc_sqlite.conf.config_database import ConfigPynencSQLite


class ConfigClientDataStorePynencSQLite(ConfigClientDataStore, ConfigPynencSQLite):
    """Settings of :class:`~pynenc_sqlite.PynencSQLiteClientDataStore`: pynenc's client
    data store settings and the database settings.

    In a config file the section is ``clientdatastorepynencsqlite`` (over the shared
    ``pynencsqlite``); as environment variables
    ``PYNENC__CONFIGCLIENTDATASTOREPYNENCSQLITE__<FIELD>``.
    """

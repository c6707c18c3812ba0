"""Configuration of the SQLite state backend."""

from pynenc.conf.config_state_backend import ConfigStateBackend

from pynenc_sqlite.conf.config_database import ConfigPynencSQLite


class ConfigStateBackendPynencSQLite(ConfigStateBackend, ConfigPynencSQLite):
    """Settings of :class:`~pynenc_sqlite.PynencSQLiteStateBackend`: pynenc's state
    backend settings and the database settings.

    In a config file the section is ``statebackendpynencsqlite`` (over the shared
    ``pynencsqlite``); as environment variables
    ``PYNENC__CONFIGSTATEBACKENDPYNENCSQLITE__<FIELD>``.
    """


#: Section of these settings in a config file or ``config_values`` dict.
CONFIG_SECTION = "statebackendpynencsqlite"

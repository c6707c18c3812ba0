"""Configuration of the SQLite orchestrator."""

from pynenc.conf.config_orchestrator import ConfigOrchestrator

from pynenc_sqlite.conf.config_database import ConfigPynencSQLite


class ConfigOrchestratorPynencSQLite(ConfigOrchestrator, ConfigPynencSQLite):
    """Settings of :class:`~pynenc_sqlite.PynencSQLiteOrchestrator`: pynenc's orchestrator
    settings and the database settings.

    In a config file the section is ``orchestratorpynencsqlite`` (over the shared
    ``pynencsqlite``); as environment variables
    ``PYNENC__CONFIGORCHESTRATORPYNENCSQLITE__<FIELD>``.
    """


#: Section of these settings in a config file or ``config_values`` dict.
CONFIG_SECTION = "orchestratorpynencsqlite"

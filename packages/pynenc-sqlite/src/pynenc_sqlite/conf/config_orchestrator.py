"""Configuration of the SQLite orchestrator."""

from cistell import ConfigField
from pynenc.conf.config_orchestrator import ConfigOrchestrator

from pynenc_sqlite.conf.config_database import ConfigPynencSQLite


class ConfigOrchestratorPynencSQLite(ConfigOrchestrator, ConfigPynencSQLite):
    """Settings of :class:`~pynenc_sqlite.PynencSQLiteOrchestrator`: pynenc's orchestrator
    settings and the database settings.

    In a config file the section is ``orchestratorpynencsqlite`` (over the shared
    ``pynencsqlite``); as environment variables
    ``PYNENC__CONFIGORCHESTRATORPYNENCSQLITE__<FIELD>``.

    :cvar recover_after_atomic_service: the runner that holds the atomic service
        recovers the invocations PENDING for too long and the RUNNING ones of dead
        runners after each of its runs (every ``atomic_service_check_interval_minutes``),
        not only when pynenc's recovery crons fire (at most once a minute).
    :cvar retention_interval_minutes: how often the runner that holds the atomic
        service removes the final invocations older than pynenc's
        ``auto_final_invocation_purge_hours``, with everything stored about them;
        0 turns this retention off.
    """

    recover_after_atomic_service = ConfigField(True)
    retention_interval_minutes = ConfigField(10.0)


#: Section of these settings in a config file or ``config_values`` dict.
CONFIG_SECTION = "orchestratorpynencsqlite"

"""Configuration of the SQLite trigger."""

from pynenc.conf.config_trigger import ConfigTrigger

from pynenc_sqlite.conf.config_database import ConfigPynencSQLite


class ConfigTriggerPynencSQLite(ConfigTrigger, ConfigPynencSQLite):
    """Settings of :class:`~pynenc_sqlite.PynencSQLiteTrigger`: pynenc's trigger
    settings (scheduler, event retention) and the database settings.

    In a config file the section is ``triggerpynencsqlite`` (over the shared
    ``pynencsqlite``); as environment variables
    ``PYNENC__CONFIGTRIGGERPYNENCSQLITE__<FIELD>``.
    """

"""Configuration of the SQLite broker."""

from pynenc.conf.config_broker import ConfigBroker

from pynenc_sqlite.conf.config_database import ConfigPynencSQLite


class ConfigBrokerPynencSQLite(ConfigBroker, ConfigPynencSQLite):
    """Settings of :class:`~pynenc_sqlite.PynencSQLiteBroker`: pynenc's broker settings
    (queues among them) and the database settings.

    In a config file the section is ``brokerpynencsqlite`` (over the shared
    ``pynencsqlite``); as environment variables
    ``PYNENC__CONFIGBROKERPYNENCSQLITE__<FIELD>``.
    """

"""Deliberately broken copies of pynenc-sqlite's client data store, one per fault.

Each is our stack in wal with one client data store fault; the contract must fail
exactly the clauses in :data:`CASES`.
"""

import hashlib

from pynenc import Pynenc
from pynenc.serializer.constants import ReservedKeys

from adapters.broken import broken_component
from pynenc_contract import Component
from pynenc_sqlite import PynencSQLiteClientDataStore
from pynenc_sqlite.schema import MessageTables

_DATA = MessageTables.CLIENT_DATA


class StoreRenamesKeyParameter(PynencSQLiteClientDataStore):
    """Names _retrieve's parameter ``data_key``: callers passing ``key=`` by keyword get
    a TypeError."""

    def _retrieve(self, data_key: str) -> str:
        return super()._retrieve(data_key)


class StoreStoresSmallValues(PynencSQLiteClientDataStore):
    """Stores every value and returns its key, ignoring min_size_to_cache."""

    def _maybe_store(self, serialized: str) -> str:
        key = f"{ReservedKeys.CLIENT_DATA.value}:{hashlib.sha256(serialized.encode()).hexdigest()}"
        self._store(key, serialized)
        return key


class StoreOnlyAboveThreshold(PynencSQLiteClientDataStore):
    """Keeps a value of exactly min_size_to_cache characters inline (``<=`` for ``<``)."""

    def _maybe_store(self, serialized: str) -> str:
        if len(serialized) <= self.conf.min_size_to_cache:
            return serialized
        return super()._maybe_store(serialized)


class StoreGivesEmptyForUnknownKey(PynencSQLiteClientDataStore):
    """Returns an empty text for a key it does not hold, instead of raising KeyError."""

    def _retrieve(self, key: str) -> str:
        found = self.rows.fetch(
            f"SELECT data_value FROM {_DATA} WHERE app_key = ? AND data_key = ?",
            (self.rows.app_key, key),
        )
        return str(found[0][0]) if found else ""


class StorePurgesEveryApp(PynencSQLiteClientDataStore):
    """Purges the stored values of every app in the file."""

    def _purge(self) -> None:
        self.database.write_one(f"DELETE FROM {_DATA}", ())


class StoreBuffersWrites(PynencSQLiteClientDataStore):
    """Keeps stored values in this process until close(): other processes never see
    them."""

    def __init__(self, app: Pynenc) -> None:
        super().__init__(app)
        self.buffered: dict[str, str] = {}

    def _store(self, key: str, value: str) -> None:
        self.buffered[key] = value

    def _retrieve(self, key: str) -> str:
        if key in self.buffered:
            return self.buffered[key]
        return super()._retrieve(key)

    def _purge(self) -> None:
        self.buffered.clear()
        super()._purge()

    def close(self) -> None:
        for key, value in self.buffered.items():
            super()._store(key, value)
        self.buffered.clear()
        super().close()


RENAMES_KEY_PARAMETER = broken_component(Component.CLIENT_DATA_STORE, StoreRenamesKeyParameter)
STORES_SMALL_VALUES = broken_component(Component.CLIENT_DATA_STORE, StoreStoresSmallValues)
ONLY_ABOVE_THRESHOLD = broken_component(Component.CLIENT_DATA_STORE, StoreOnlyAboveThreshold)
EMPTY_FOR_UNKNOWN_KEY = broken_component(Component.CLIENT_DATA_STORE, StoreGivesEmptyForUnknownKey)
PURGES_EVERY_APP = broken_component(Component.CLIENT_DATA_STORE, StorePurgesEveryApp)
BUFFERS_WRITES = broken_component(Component.CLIENT_DATA_STORE, StoreBuffersWrites)

#: broken copy -> (suite modules to run, the clauses that must fail there)
CASES: dict[str, tuple[list[str], set[str]]] = {
    "RENAMES_KEY_PARAMETER": (["test_client_data_store"], {"CDS-1"}),
    "STORES_SMALL_VALUES": (["test_client_data_store"], {"CDS-2"}),
    "ONLY_ABOVE_THRESHOLD": (["test_client_data_store"], {"CDS-3"}),
    # CDS-2 and CDS-5 see that nothing is stored by the KeyError too.
    "EMPTY_FOR_UNKNOWN_KEY": (["test_client_data_store"], {"CDS-2", "CDS-4", "CDS-5"}),
    # The other app's arguments and results are gone: its invocations cannot run.
    "PURGES_EVERY_APP": (["test_client_data_store", "test_across"], {"CDS-5", "ACROSS-1"}),
    # A runner process cannot read the arguments another process routed.
    "BUFFERS_WRITES": (["test_client_data_store", "test_across"], {"CDS-6", "ACROSS-2"}),
}
#: Clauses the whole suite finds broken where they reach beyond the copy's modules.
WHOLE_SUITE: dict[str, set[str]] = {
    # Small arguments become keys, so look-ups by their inline value find nothing.
    "STORES_SMALL_VALUES": {"CDS-2", "QUERY-1"},
}

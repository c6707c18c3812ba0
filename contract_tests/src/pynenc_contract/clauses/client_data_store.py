"""The client data store's clauses: BaseClientDataStore."""

from pynenc_contract.backend import Component
from pynenc_contract.clauses.clause import Clause

CLAUSES = (
    Clause(
        "CDS-1",
        "Complete interface",
        "Every abstract method of BaseClientDataStore is implemented, the client data "
        "store can be instantiated, and each override accepts every parameter of the base "
        "method with the same name and kind.",
        kind=Component.CLIENT_DATA_STORE,
    ),
    Clause(
        "CDS-2",
        "Small values stay inline",
        "A value whose serialized form is shorter than min_size_to_cache characters is "
        "returned inline by serialize (the serialized text, not a reference) and nothing "
        "is stored for it; so is a value of any size when disable_client_data_store is set "
        "or its cache is disabled. resolve gives the value back.",
        ("cds-size-threshold",),
        kind=Component.CLIENT_DATA_STORE,
    ),
    Clause(
        "CDS-3",
        "Large values are stored under their content key",
        "A value whose serialized form is min_size_to_cache characters long or longer (the "
        "boundary is stored) is stored under the key __pynenc__client_data__:<sha256 of the "
        "serialized text>, which serialize returns; _retrieve of that key gives back the "
        "serialized text exactly and resolve the value, arguments too. Storing the same "
        "value again returns the same key and it still reads back.",
        ("_store", "_retrieve", "cds-size-threshold", "cds-content-key"),
        kind=Component.CLIENT_DATA_STORE,
    ),
    Clause(
        "CDS-4",
        "Unknown keys raise KeyError",
        "_retrieve of a key that was never stored, or was purged, raises KeyError.",
        ("_retrieve", "cds-unknown-key"),
        kind=Component.CLIENT_DATA_STORE,
    ),
    Clause(
        "CDS-5",
        "Stored values and purge are per app",
        "Two apps share one storage and store the same large value, and one more each: a "
        "value only one app stored is not found by the other; purge removes every value of "
        "its app, the shared content included, and the other app still reads all of its "
        "own; the purged app stores and reads again.",
        ("_purge", "_retrieve", "cds-app-isolation"),
        kind=Component.CLIENT_DATA_STORE,
    ),
    Clause(
        "CDS-6",
        "Values cross processes",
        "A value stored by one OS process (same app, shared storage) resolves in another, "
        "in both directions, without the writer's local cache.",
        ("_store", "_retrieve"),
        capability="cross_process",
        kind=Component.CLIENT_DATA_STORE,
    ),
)

#: Guarantees pynenc's docstrings state for client data stores.
GUARANTEES = {
    "cds-size-threshold": "ConfigClientDataStore.min_size_to_cache: values smaller than "
    "this are returned inline; _maybe_store: below min_size_to_cache inline, else stored",
    "cds-content-key": "BaseClientDataStore: the same serialized value always maps to the "
    "same SHA-256 key; _store: storing the same key twice is a no-op (upsert)",
    "cds-unknown-key": "_retrieve: raises KeyError if the key is not found",
    "cds-app-isolation": "purge and every look-up: data of the current app_id only",
}

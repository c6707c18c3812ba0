"""The client data store: the size threshold, content keys, unknown keys, apps apart,
and values shared between processes."""

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.client_data_store.base_client_data_store import BaseClientDataStore
from pynenc.serializer.constants import ReservedKeys

from pynenc_contract import racing
from pynenc_contract.backend import Component, ContractBackend, layer_settings
from pynenc_contract.clauses import clause, signature_drift
from pynenc_contract.suite.conftest import AppFactory


def content_key(serialized: str) -> str:
    """The key a serialized value is stored under."""
    return f"{ReservedKeys.CLIENT_DATA.value}:{hashlib.sha256(serialized.encode()).hexdigest()}"


def text_serialized_to(store: Any, length: int, fill: str = "x") -> str:
    """A string whose serialized form is exactly ``length`` characters long."""
    overhead = len(store.app.serializer.serialize(fill)) - len(fill)
    value = fill * ((length - overhead) // len(fill) + 1)
    value = value[: length - overhead]
    assert len(store.app.serializer.serialize(value)) == length
    return value


def _large(store: Any, label: str) -> str:
    """A string well above the threshold, distinct for each ``label``."""
    threshold: int = store.conf.min_size_to_cache
    return f"{label}: " + "payload " * threshold


def store_values(app: Pynenc, racer: racing.Racer, values: Sequence[str]) -> list[str]:
    """Race work: serialize each value; return what serialize gave (keys when stored)."""
    return [app.client_data_store.serialize(value) for value in values]


def read_values(app: Pynenc, racer: racing.Racer, keys: Sequence[str]) -> list[str]:
    """Race work: resolve each key in this process; return the values."""
    return [str(app.client_data_store.resolve(key)) for key in keys]


@clause("CDS-1")
def test_every_abstract_method_is_implemented(contract_backend: ContractBackend) -> None:
    cls = contract_backend.component_class(Component.CLIENT_DATA_STORE)
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    assert not missing, f"{getattr(cls, '__name__', cls)} lacks {missing}"


@clause("CDS-1")
def test_the_client_data_store_is_instantiated(client_data_store: Any) -> None:
    assert isinstance(client_data_store, BaseClientDataStore)


@clause("CDS-1")
def test_signatures_match_the_base_class(contract_backend: ContractBackend) -> None:
    cls = contract_backend.component_class(Component.CLIENT_DATA_STORE) or object
    drift = signature_drift(cls)
    assert not drift, "; ".join(drift)


@clause("CDS-2")
def test_values_below_the_threshold_stay_inline(client_data_store: Any) -> None:
    serializer = client_data_store.app.serializer
    below = text_serialized_to(client_data_store, client_data_store.conf.min_size_to_cache - 1)
    for value in (below, {"small": [1, 2, 3]}):
        serialized = serializer.serialize(value)
        assert client_data_store.serialize(value) == serialized
        assert not client_data_store.is_reference(serialized)
        assert client_data_store.resolve(serialized) == value
        with pytest.raises(KeyError):
            client_data_store._retrieve(content_key(serialized))


@clause("CDS-2")
def test_disabled_storage_keeps_large_values_inline(app: Pynenc) -> None:
    enabled = app.client_data_store
    cached_off = _large(enabled, "cache disabled")
    serialized = app.serializer.serialize(cached_off)
    assert enabled.serialize(cached_off, disable_cache=True) == serialized
    assert enabled.serialize_arguments({"big": cached_off}, ("big",)) == {"big": serialized}
    layer_settings(app, {"clientdatastore": {"disable_client_data_store": True}})
    disabled = app.client_data_store
    store_off = _large(disabled, "store disabled")
    assert disabled.serialize(store_off) == app.serializer.serialize(store_off)
    for value in (cached_off, store_off):
        with pytest.raises(KeyError):
            disabled._retrieve(content_key(app.serializer.serialize(value)))


@clause("CDS-3")
def test_values_from_the_threshold_up_are_stored_under_their_content_key(
    client_data_store: Any,
) -> None:
    threshold = client_data_store.conf.min_size_to_cache
    for length in (threshold, threshold + 1, 5 * threshold):
        value = text_serialized_to(client_data_store, length)
        serialized = client_data_store.app.serializer.serialize(value)
        key = client_data_store.serialize(value)
        assert key == content_key(serialized), f"a value of {length} characters"
        assert client_data_store._retrieve(key) == serialized
        assert client_data_store.resolve(key) == value


@clause("CDS-3")
def test_large_arguments_are_stored_and_storing_again_keeps_the_key(
    client_data_store: Any,
) -> None:
    rows = {"rows": [{"id": i, "name": f"row {i}"} for i in range(200)]}
    serialized = client_data_store.app.serializer.serialize(rows)
    stored = client_data_store.serialize_arguments({"rows": rows, "n": 1}, ())
    assert stored["rows"] == content_key(serialized)
    assert client_data_store.serialize(rows) == stored["rows"]
    assert client_data_store._retrieve(stored["rows"]) == serialized
    assert client_data_store.deserialize_arguments(stored) == {"rows": rows, "n": 1}


@clause("CDS-4")
def test_unknown_and_purged_keys_raise_key_error(client_data_store: Any) -> None:
    with pytest.raises(KeyError):
        client_data_store._retrieve(content_key('"never stored"'))
    key = client_data_store.serialize(_large(client_data_store, "purged"))
    client_data_store.purge()
    with pytest.raises(KeyError):
        client_data_store._retrieve(key)


@clause("CDS-5")
def test_stored_values_and_purge_are_per_app(app_factory: AppFactory) -> None:
    purged, kept = (app_factory().client_data_store for _ in range(2))
    serializer = kept.app.serializer
    shared = _large(kept, "shared")
    shared_key = purged.serialize(shared)
    assert kept.serialize(shared) == shared_key
    purged_own, kept_own = _large(purged, "purged's"), _large(kept, "kept's")
    purged_key, kept_key = purged.serialize(purged_own), kept.serialize(kept_own)
    with pytest.raises(KeyError):
        kept._retrieve(purged_key)
    with pytest.raises(KeyError):
        purged._retrieve(kept_key)
    purged.purge()
    for key in (shared_key, purged_key):
        with pytest.raises(KeyError):
            purged._retrieve(key)
    assert kept._retrieve(shared_key) == serializer.serialize(shared)
    assert kept._retrieve(kept_key) == serializer.serialize(kept_own)
    assert purged.serialize(purged_own) == purged_key
    assert purged._retrieve(purged_key) == serializer.serialize(purged_own)


@clause("CDS-6")
@pytest.mark.timeout(180)
def test_values_stored_by_one_process_resolve_in_another(
    contract_backend: ContractBackend, client_data_store: Any, tmp_path: Path
) -> None:
    app = client_data_store.app
    here = [_large(client_data_store, f"written here {index}") for index in range(3)]
    keys = [client_data_store.serialize(value) for value in here]
    assert all(client_data_store.is_reference(key) for key in keys)
    read = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work=f"{__name__}:read_values",
        inputs=keys,
        racers=2,
        kind=Component.CLIENT_DATA_STORE,
    )
    assert read == [here, here]
    there = [_large(client_data_store, f"written by a child {index}") for index in range(3)]
    (child_keys,) = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work=f"{__name__}:store_values",
        inputs=there,
        racers=1,
        kind=Component.CLIENT_DATA_STORE,
    )
    assert [client_data_store.resolve(key) for key in child_keys] == there

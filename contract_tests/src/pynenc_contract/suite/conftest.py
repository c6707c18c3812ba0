"""Fixtures of the contract's clauses: apps on the backend under test and a clock.

They live here rather than in the plugin so that they are seen only by the suite's
tests and never shadow, or pass for, fixtures of a project that installs it.
"""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import time_machine

from pynenc_contract.backend import Component, ContractBackend, checked_component
from pynenc_contract.clauses import CLAUSES
from pynenc_contract.kit import Clock
from pynenc_contract.plugin import MARKER

if TYPE_CHECKING:
    from pynenc import Pynenc

AppFactory = Callable[..., "Pynenc"]


@pytest.fixture
def app_factory(
    contract_backend: ContractBackend, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[AppFactory]:
    """Build apps on the backend; each call a fresh app_id, all sharing ``tmp_path``.

    Each app is checked to have the backend's classes for the components the test's
    clauses are about, and those are purged after the test.
    """
    kinds = tests_kinds(request.node)
    built: list[Pynenc] = []

    def build(app_id: str | None = None) -> "Pynenc":
        app_id = app_id or f"contract-{uuid.uuid4().hex[:12]}"
        app = contract_backend.new_app(app_id, tmp_path, kinds=kinds)
        built.append(app)
        return app

    yield build
    for app in built:
        for kind in kinds:
            getattr(app, kind.value).purge()


def tests_kinds(node: pytest.Item) -> tuple[Component, ...]:
    """The components that the clauses of a test are about, in pynenc's order."""
    ids = {cid for mark in node.iter_markers(MARKER) for cid in mark.args}
    wanted = {kind for cid in ids for kind in CLAUSES[cid].components}
    return tuple(kind for kind in Component if kind in wanted) or (Component.ORCHESTRATOR,)


@pytest.fixture
def app(app_factory: AppFactory) -> "Pynenc":
    """A fresh app on the backend under test."""
    return app_factory()


@pytest.fixture
def broker(contract_backend: ContractBackend, app: "Pynenc") -> Any:
    """The broker of ``app``, the class the backend names for it."""
    return checked_component(contract_backend, app, Component.BROKER)


@pytest.fixture
def state_backend(contract_backend: ContractBackend, app: "Pynenc") -> Any:
    """The state backend of ``app``, the class the backend names for it."""
    return checked_component(contract_backend, app, Component.STATE_BACKEND)


@pytest.fixture
def trigger(contract_backend: ContractBackend, app: "Pynenc") -> Any:
    """The trigger of ``app``, the class the backend names for it."""
    return checked_component(contract_backend, app, Component.TRIGGER)


@pytest.fixture
def client_data_store(contract_backend: ContractBackend, app: "Pynenc") -> Any:
    """The client data store of ``app``, the class the backend names for it."""
    return checked_component(contract_backend, app, Component.CLIENT_DATA_STORE)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """This process's clocks, movable with ``clock.shift(seconds)`` (see :class:`Clock`)."""
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        yield Clock(traveller, monkeypatch)

"""Fixtures of the contract's clauses: apps on the backend under test and a clock.

They live here rather than in the plugin so that they are seen only by the suite's
tests and never shadow, or pass for, fixtures of a project that installs it.
"""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import time_machine

from pynenc_contract.backend import ContractBackend

if TYPE_CHECKING:
    from pynenc import Pynenc

AppFactory = Callable[..., "Pynenc"]


@pytest.fixture
def app_factory(contract_backend: ContractBackend, tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps on the backend; each call a fresh app_id, all sharing ``tmp_path``."""
    built: list[Pynenc] = []

    def build(app_id: str | None = None) -> "Pynenc":
        app = contract_backend.new_app(app_id or f"contract-{uuid.uuid4().hex[:12]}", tmp_path)
        built.append(app)
        return app

    yield build
    for app in built:
        app.orchestrator.purge()


@pytest.fixture
def app(app_factory: AppFactory) -> "Pynenc":
    """A fresh app on the backend under test."""
    return app_factory()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """The process clock, movable with ``clock.shift(seconds)``; it keeps ticking."""
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        yield traveller

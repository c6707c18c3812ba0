"""Fixtures for pynenc-sqlite's own tests: apps on a temporary database, per journal mode."""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.builder import PynencBuilder

from pynenc_sqlite import PynencSQLiteOrchestrator

#: The journal mode of this test run (the nox matrix sets it).
JOURNAL_MODE = os.environ.get("PYNENC_SQLITE_JOURNAL_MODE", "wal")

AppFactory = Callable[..., Pynenc]


def build_app(
    workdir: Path, app_id: str | None = None, db_path: Path | None = None, **options: Any
) -> Pynenc:
    """An app with pynenc's SQLite components and our orchestrator in ``workdir``."""
    options.setdefault("journal_mode", JOURNAL_MODE)
    app: Pynenc = (
        PynencBuilder()
        .app_id(app_id or f"test-{uuid.uuid4().hex[:10]}")
        .sqlite(str(workdir / "components.sqlite3"))
        .sqlite_orchestrator(str(db_path or workdir / "orchestrator.sqlite3"), **options)
        .build()
    )
    return app


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps in ``tmp_path``; their connections are closed afterwards."""
    apps: list[Pynenc] = []

    def make(**kwargs: Any) -> Pynenc:
        app = build_app(tmp_path, **kwargs)
        assert isinstance(app.orchestrator, PynencSQLiteOrchestrator)  # built now: errors here
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.orchestrator.close()  # type: ignore[attr-defined]


@pytest.fixture
def orchestrator(make_app: AppFactory) -> PynencSQLiteOrchestrator:
    """Our orchestrator on a fresh database."""
    orchestrator = make_app().orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    return orchestrator

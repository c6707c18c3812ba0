"""pynenc-sqlite's state backend beyond pynenc's own suite (``nox -s pynenc_suites``):
one database with the orchestrator, discovery, configuration errors."""

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pynenc import Pynenc, PynencBuilder
from pynenc.app_info import AppInfo
from pynenc.invocation.status import InvocationStatus
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract import kit
from pynenc_sqlite import PynencSQLiteStateBackend, SQLiteConfigurationError
from pynenc_sqlite.conf.config_state_backend import CONFIG_SECTION
from pynenc_sqlite.contract import STACK
from pynenc_sqlite.schema import StateTables


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Pynenc]:
    app = STACK.new_app("stack-app", tmp_path)
    yield app
    _state(app).close()


def _state(app: Pynenc) -> PynencSQLiteStateBackend:
    backend = app.state_backend
    assert isinstance(backend, PynencSQLiteStateBackend)
    return backend


def _stored_results(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {StateTables.RESULTS}").fetchone()[0])


def test_the_stack_keeps_orchestrator_and_state_backend_on_one_database(stack: Pynenc) -> None:
    """One connection per thread serves both components of the stack."""
    state = _state(stack)
    assert state.database is stack.orchestrator.database  # type: ignore[attr-defined]
    (invocation_id,) = kit.registered(stack, 1)
    state.set_result(invocation_id, 42)
    assert _stored_results(Path(state.sqlite_db_path)) == 1
    assert state.get_result(invocation_id) == 42


def test_a_state_backend_on_another_file_keeps_its_own_database(tmp_path: Path) -> None:
    app = (
        PynencBuilder()
        .app_id("split-files")
        .sqlite(str(tmp_path / "components.sqlite3"))
        .sqlite_stack(str(tmp_path / "stack.sqlite3"))
        .custom_config(**{CONFIG_SECTION: {"sqlite_db_path": str(tmp_path / "state.sqlite3")}})
        .build()
    )
    state = _state(app)
    try:
        assert state.database is not app.orchestrator.database
        assert state.sqlite_db_path == str(tmp_path / "state.sqlite3")
        (invocation_id,) = kit.registered(app, 1)
        state.set_result(invocation_id, "kept apart")
        assert _stored_results(tmp_path / "state.sqlite3") == 1
        assert _stored_results(tmp_path / "stack.sqlite3") == 0
    finally:
        state.close()
        app.orchestrator.close()


def test_discovery_reads_the_configured_file_only(
    stack: Pynenc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every app that stored its info in the configured file; a missing file is
    neither created nor an error."""
    _state(stack).store_app_info(AppInfo.from_app(stack))
    other = STACK.new_app("other-app", tmp_path)
    _state(other).store_app_info(AppInfo.from_app(other))
    monkeypatch.setenv("PYNENC__SQLITE_DB_PATH", _state(stack).sqlite_db_path)
    assert sorted(PynencSQLiteStateBackend.discover_app_infos()) == ["other-app", "stack-app"]
    missing = tmp_path / "missing.sqlite3"
    monkeypatch.setenv("PYNENC__SQLITE_DB_PATH", str(missing))
    assert PynencSQLiteStateBackend.discover_app_infos() == {}
    assert not missing.exists()


def test_the_stack_builder_refuses_bad_settings_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SQLiteConfigurationError, match=r"journal_mode 'off' is refused.*choose"):
        PynencBuilder().sqlite_stack(str(tmp_path / "x.sqlite3"), journal_mode="off")
    with pytest.raises(SQLiteConfigurationError, match=r"busy_timeout_seconds -1.*greater than 0"):
        PynencBuilder().sqlite_stack(str(tmp_path / "x.sqlite3"), busy_timeout_seconds=-1)


def test_time_range_pages_cover_every_entry_once_in_order(stack: Pynenc) -> None:
    """Small pages (keyset pagination) return what one large page does, in order."""
    state = _state(stack)
    walker = RunnerContext("PageWalker", runner_id="walker")
    invocation_ids = kit.registered(stack, 5)
    for invocation_id in invocation_ids:
        for status in kit.path_to(InvocationStatus.SUCCESS):
            stack.orchestrator.set_invocation_status(invocation_id, status, walker)
    window = (datetime.now(UTC) - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1))
    entries = [entry for page in state.iter_history_in_timerange(*window, 2) for entry in page]
    in_one_page = next(state.iter_history_in_timerange(*window, 1000))
    assert [e.to_json() for e in entries] == [e.to_json() for e in in_one_page]
    assert len(entries) == 5 * len(kit.path_to(InvocationStatus.SUCCESS))
    assert [e.timestamp for e in entries] == sorted(e.timestamp for e in entries)
    pages = list(state.iter_invocations_in_timerange(*window, 2))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(i for page in pages for i in page) == sorted(invocation_ids)

"""Configuration: validation at construction, defaults, and the ways to set it."""

from collections.abc import Callable
from pathlib import Path

import pytest
from pynenc import Pynenc
from pynenc.builder import PynencBuilder

from pynenc_sqlite import (
    PynencSQLiteOrchestrator,
    SQLiteConfigurationError,
    default_database_path,
)
from pynenc_sqlite.conf.config_database import (
    DatabaseSettings,
    JournalMode,
    load_config,
)
from pynenc_sqlite.conf.config_orchestrator import ConfigOrchestratorPynencSQLite


def _settings(**section: object) -> DatabaseSettings:
    conf = load_config(ConfigOrchestratorPynencSQLite, {"orchestratorpynencsqlite": section}, None)
    return DatabaseSettings.from_config(conf, "app")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("journal_mode", "off", "corrupts the database"),
        ("journal_mode", "wall", "journal_mode 'wall' is not valid; choose one of wal, delete"),
        ("synchronous", "sometimes", "synchronous 'sometimes' is not valid"),
        ("busy_timeout_seconds", 0, "busy_timeout_seconds 0.0 is not valid"),
        (
            "busy_timeout_seconds",
            "soon",
            "settings could not be read .*busy_timeout_seconds: give a number of seconds",
        ),
        ("file_mode", "0400", "file_mode '0400' is not valid"),
        ("file_mode", "rw", "file_mode 'rw' is not valid"),
        ("wal_autocheckpoint_pages", 0, "wal_autocheckpoint_pages 0 is not valid"),
        ("sqlite_db_path", ":memory:", "cannot be shared between processes"),
    ],
)
def test_bad_values_are_refused_with_the_fix(field: str, value: object, message: str) -> None:
    with pytest.raises(SQLiteConfigurationError, match=message) as raised:
        _settings(**{field: value})
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("mode", list(JournalMode))
def test_every_journal_mode_is_accepted_in_any_case(mode: JournalMode) -> None:
    assert _settings(journal_mode=mode.value.upper()).journal_mode is mode


def test_default_path_is_per_app_and_the_same_in_every_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    first = _settings().path
    assert first == default_database_path("app")
    assert first.parent == tmp_path / "pynenc-sqlite"
    assert default_database_path("other app") != first


def test_builder_refuses_bad_values_before_building() -> None:
    builder = PynencBuilder().app_id("builder")
    with pytest.raises(SQLiteConfigurationError, match="journal_mode 'off' is refused"):
        builder.sqlite_orchestrator(journal_mode="off")
    assert "orchestrator_cls" not in builder._config


def test_builder_settings_reach_the_orchestrator(
    make_app: Callable[..., Pynenc], tmp_path: Path
) -> None:
    orchestrator = make_app(
        journal_mode="truncate", synchronous="full", busy_timeout_seconds=2.5, file_mode="0640"
    ).orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    settings = orchestrator.database.settings
    assert (settings.journal_mode, settings.synchronous.value) == (JournalMode.TRUNCATE, "full")
    assert (settings.busy_timeout_seconds, settings.file_mode) == (2.5, 0o640)
    assert settings.path == tmp_path / "orchestrator.sqlite3"


def test_path_given_to_sqlite_is_shared_when_no_own_path(tmp_path: Path) -> None:
    app = (
        PynencBuilder()
        .app_id("shared-file")
        .sqlite(str(tmp_path / "all.sqlite3"))
        .sqlite_orchestrator()
        .build()
    )
    assert app.orchestrator.sqlite_db_path == str(tmp_path / "all.sqlite3")

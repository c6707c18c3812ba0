"""Selecting the orchestrator: plugin entry points, config file, env vars, determinism."""

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pynenc import Pynenc
from pynenc.orchestrator.sqlite_orchestrator import SQLiteOrchestrator as BuiltinSQLite

from pynenc_sqlite import PynencSQLiteOrchestrator, SQLiteOrchestrator

PROBE = textwrap.dedent(
    """
    import json, os
    from pynenc import Pynenc
    app = Pynenc(config_values={"app_id": "probe"},
                 config_filepath=os.environ.get("PROBE_CONFIG"))
    orchestrator = app.orchestrator
    database = getattr(orchestrator, "database", None)
    settings = database and database.settings
    print(json.dumps({
        "class": type(orchestrator).__module__ + "." + type(orchestrator).__name__,
        "journal_mode": settings and settings.journal_mode.value,
        "path": settings and str(settings.path),
    }))
    """
)


def _probe(env: dict[str, str]) -> dict[str, str]:
    """Build an app in a fresh interpreter that never imported pynenc_sqlite itself."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC__")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


OURS = "pynenc_sqlite.orchestrator.sqlite_orchestrator.PynencSQLiteOrchestrator"


def test_entry_points_are_registered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="pynenc.plugins")}
    assert names["sqlite_orchestrator"] == "pynenc_sqlite.orchestrator.sqlite_orchestrator"
    assert names["sqlite_builder"] == "pynenc_sqlite.builder:SQLiteBuilderPlugin"


def test_api_names_follow_pynenc_with_a_distinct_class_name() -> None:
    assert SQLiteOrchestrator is PynencSQLiteOrchestrator
    assert PynencSQLiteOrchestrator.__name__ != BuiltinSQLite.__name__


@pytest.mark.parametrize("seed", ["0", "1", "2", "3"])
def test_selection_is_deterministic_with_both_classes_imported(seed: str, tmp_path: Path) -> None:
    base = {"PYTHONHASHSEED": seed, "PYNENC__SQLITE_DB_PATH": str(tmp_path / "db.sqlite3")}
    ours = _probe({**base, "PYNENC__ORCHESTRATOR_CLS": "PynencSQLiteOrchestrator"})
    builtin = _probe({**base, "PYNENC__ORCHESTRATOR_CLS": "SQLiteOrchestrator"})
    assert ours["class"] == OURS
    assert builtin["class"] == "pynenc.orchestrator.sqlite_orchestrator.SQLiteOrchestrator"


def test_in_process_selection_with_both_imported(tmp_path: Path) -> None:
    for attempt in range(5):
        values = {
            "app_id": f"both-{attempt}",
            "orchestrator_cls": "PynencSQLiteOrchestrator",
            "sqlite_db_path": str(tmp_path / "db.sqlite3"),
        }
        assert type(Pynenc(config_values=values).orchestrator) is PynencSQLiteOrchestrator


def test_env_vars_configure_it(tmp_path: Path) -> None:
    found = _probe(
        {
            "PYNENC__ORCHESTRATOR_CLS": "PynencSQLiteOrchestrator",
            "PYNENC__CONFIGORCHESTRATORPYNENCSQLITE__SQLITE_DB_PATH": str(tmp_path / "env.sqlite3"),
            "PYNENC__CONFIGORCHESTRATORPYNENCSQLITE__JOURNAL_MODE": "truncate",
        }
    )
    assert found == {
        "class": OURS,
        "journal_mode": "truncate",
        "path": str(tmp_path / "env.sqlite3"),
    }


def test_config_file_configures_it(tmp_path: Path) -> None:
    config = tmp_path / "pynenc.json"
    config.write_text(
        json.dumps(
            {
                "orchestrator_cls": "PynencSQLiteOrchestrator",
                "orchestratorpynencsqlite": {
                    "sqlite_db_path": str(tmp_path / "file.sqlite3"),
                    "journal_mode": "persist",
                },
            }
        )
    )
    found = _probe({"PROBE_CONFIG": str(config)})
    assert found == {
        "class": OURS,
        "journal_mode": "persist",
        "path": str(tmp_path / "file.sqlite3"),
    }

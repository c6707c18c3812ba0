"""A backend described outside the repo runs the scenarios through the documented command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[1]

#: A throwaway package, as an outside author writes one: its own orchestrator class
#: (here a subclass of pynenc-sqlite's) and its description.
THROWAWAY = '''
from pathlib import Path

from pynenc.builder import PynencBuilder
from pynenc_contract import BackendDescription, Capability
from pynenc_sqlite import PynencSQLiteOrchestrator


class ThrowawayOrchestrator(PynencSQLiteOrchestrator):
    """An orchestrator of someone else's package."""


def build_app(app_id: str, workdir: Path):
    return (
        PynencBuilder()
        .app_id(app_id)
        .sqlite(str(workdir / "pynenc.sqlite3"))
        .sqlite_orchestrator(str(workdir / "throwaway.sqlite3"), journal_mode="truncate")
        .custom_config(orchestrator_cls="ThrowawayOrchestrator")
        .build()
    )


BACKEND = BackendDescription(
    name="throwaway",
    orchestrator_class=ThrowawayOrchestrator,
    build_app=build_app,
    capabilities=frozenset({Capability.CROSS_PROCESS}),
)
'''


@pytest.mark.timeout(300)
def test_a_description_outside_the_repo_runs_a_scenario(tmp_path: Path) -> None:
    package = tmp_path / "throwaway_backend"
    package.mkdir()
    (package / "__init__.py").write_text(THROWAWAY)
    out = tmp_path / "results"
    command = [
        sys.executable,
        str(SCENARIOS / "run_all.py"),
        "--quick",
        "--backend",
        "throwaway_backend:BACKEND",
        "--only",
        "registration",
        "--runner",
        "ThreadRunner",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "throwaway"
    (case,) = summary["runs"][0]["cases"]
    assert case["outcome"] == "pass"
    assert case["backend"] == "throwaway"
    checks = {check["name"]: check["ok"] for check in case["checks"]}
    assert checks["one invocation per call"]
    assert checks["orchestrator file in journal mode truncate"]  # built from the description


def test_a_backend_that_cannot_span_processes_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCENARIOS / "run_all.py"),
            "--backend",
            "adapters.pynenc_builtin_backends:MEMORY",
            "--out",
            str(tmp_path),
        ],
        cwd=SCENARIOS.parent / "contract_tests",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "lacks the cross_process capability" in done.stderr

"""The installed plugin stays out of other projects' tests."""

import json
from pathlib import Path

import pytest
from suite_runner import CONTRACT_TESTS, run_pytest

from pynenc_contract import BackendDescription
from pynenc_contract.backend import build_in_child, load_backend
from pynenc_sqlite import PynencSQLiteOrchestrator
from pynenc_sqlite.contract import WAL

A_PROJECTS_TESTS = """
def test_app(app): pass
def test_app_factory(app_factory): pass
def test_clock(clock): pass
"""


@pytest.mark.timeout(120)
def test_the_suites_fixtures_are_not_lent_to_other_projects(tmp_path: Path) -> None:
    (tmp_path / "test_project.py").write_text(A_PROJECTS_TESTS)
    done = run_pytest(tmp_path, "test_project.py", timeout=100)
    assert "3 errors" in done.stdout, done.stdout[-3000:]
    for name in ("app", "app_factory", "clock"):
        assert f"fixture '{name}' not found" in done.stdout


@pytest.mark.timeout(300)
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_fixed_known_failure_says_it_passes_now(tmp_path: Path, workers: list[str]) -> None:
    report = tmp_path / "report"
    done = run_pytest(
        CONTRACT_TESTS,
        "--pyargs",
        "pynenc_contract.suite.test_lookups",
        "--contract-backend=adapters.broken:ALREADY_FIXED",
        f"--contract-report={report}",
        *workers,
        timeout=280,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    tests = json.loads((report / "conformance.json").read_text())["tests"]
    reason = tests["test_lookups.py::test_filter_by_status"]["reason"]
    assert reason == (
        "passes now: remove its entry from known_failures ([fixed-1] was fixed long ago)"
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon_here", "'no_colon_here' is not of the form 'module:attribute'"),
        ("no_such_module:BACKEND", "cannot load 'no_such_module:BACKEND'"),
        ("adapters.broken:NOTHING", "cannot load 'adapters.broken:NOTHING'"),
        ("adapters.broken:replace", "is a function of (obj), not a backend description"),
    ],
)
def test_a_bad_backend_spec_is_one_usage_error(tmp_path: Path, spec: str, message: str) -> None:
    done = run_pytest(
        CONTRACT_TESTS,
        "--pyargs",
        "pynenc_contract.suite.test_interface",
        f"--contract-backend={spec}",
        timeout=100,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_child_build_app_function_builds_children(tmp_path: Path) -> None:
    """Descriptions of contract 0.1 name a builder function for child processes."""
    described = BackendDescription(
        name="by function",
        orchestrator_class=PynencSQLiteOrchestrator,
        build_app=WAL.build_app,
        child_build_app="pynenc_sqlite.contract:_unused",
    )
    assert described.child_app_builder() == ("function", "pynenc_sqlite.contract:_unused")
    assert load_backend("pynenc_sqlite.contract:WAL").child_app_builder() == (
        "backend",
        "pynenc_sqlite.contract:WAL",
    )
    app = build_in_child(("backend", "pynenc_sqlite.contract:WAL"), "child", tmp_path)
    assert isinstance(app.orchestrator, PynencSQLiteOrchestrator)

"""The installed plugin stays out of other projects' tests."""

import subprocess
import sys
from pathlib import Path

import pytest

A_PROJECTS_TESTS = """
def test_app(app): pass
def test_app_factory(app_factory): pass
def test_clock(clock): pass
"""


@pytest.mark.timeout(120)
def test_the_suites_fixtures_are_not_lent_to_other_projects(tmp_path: Path) -> None:
    (tmp_path / "test_project.py").write_text(A_PROJECTS_TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_project.py"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        cwd=tmp_path,
    )
    assert "3 errors" in done.stdout, done.stdout[-3000:]
    for name in ("app", "app_factory", "clock"):
        assert f"fixture '{name}' not found" in done.stdout

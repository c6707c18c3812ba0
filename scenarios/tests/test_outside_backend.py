"""A backend described outside the repo runs the scenarios through the documented
command, and each mistake of its author is one line that names the fix."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: The console script, installed beside this interpreter.
PYNENC_SCENARIOS = str(Path(sys.executable).with_name("pynenc-scenarios"))
CONTRACT_TESTS = Path(__file__).resolve().parents[2] / "contract_tests"

#: The throwaway description with known failures of a run of the registration scenario.
WITH_KNOWN_FAILURES = """
from dataclasses import replace

from pynenc_contract import KnownFailure
from throwaway_backend import BACKEND

KNOWN = replace(BACKEND, known_failures={{{entries}}})
"""


def scenarios(cwd: Path, *args: str, timeout: float = 280) -> subprocess.CompletedProcess[str]:
    """``pynenc-scenarios ARGS`` in ``cwd``."""
    return subprocess.run(
        [PYNENC_SCENARIOS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def with_known(author_dir: Path, **entries: str) -> str:
    """A module of ``author_dir`` whose description has these known failures
    (key=defect); its spec."""
    listed = ", ".join(
        f"{key!r}: KnownFailure({defect!r}, 'why')" for key, defect in entries.items()
    )
    (author_dir / "known.py").write_text(WITH_KNOWN_FAILURES.format(entries=listed))
    return "known:KNOWN"


REGISTRATION_TR = ("--quick", "--only", "registration", "--runner", "ThreadRunner")


@pytest.mark.timeout(300)
def test_a_description_outside_the_repo_runs_a_scenario(author_dir: Path) -> None:
    out = author_dir / "results"
    done = scenarios(
        author_dir,
        "run",
        "--backend",
        "throwaway_backend:BACKEND",
        *REGISTRATION_TR,
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "throwaway"
    (case,) = summary["runs"][0]["cases"]
    assert case["outcome"] == "pass"
    assert case["backend"] == "throwaway"
    checks = {check["name"]: check["ok"] for check in case["checks"]}
    assert checks["one invocation per call"]
    assert checks["orchestrator file in journal mode truncate"]  # the description's own check


def test_a_backend_that_cannot_span_processes_is_a_usage_error(tmp_path: Path) -> None:
    done = scenarios(
        CONTRACT_TESTS,
        "run",
        "--backend",
        "pynenc_contract.pynenc_backends:MEMORY",
        "--out",
        str(tmp_path),
        timeout=120,
    )
    assert done.returncode == 2
    assert "lacks the cross_process capability" in done.stderr


@pytest.mark.parametrize("command", [("run",), ("scenario", "throughput")])
def test_a_negative_stored_count_is_a_usage_error(command: tuple[str, ...], tmp_path: Path) -> None:
    done = scenarios(tmp_path, *command, "--stored", "-5", "--out", str(tmp_path), timeout=60)
    assert done.returncode == 2
    assert (
        "argument --stored: '-5': expected how many final invocations to store, 0 or more"
        in done.stderr
    )


def test_a_misspelled_known_failure_key_is_refused_before_any_case(author_dir: Path) -> None:
    spec = with_known(author_dir, **{"registraton/*: one invocation per call": "typo"})
    done = scenarios(author_dir, "run", "--backend", spec, "--out", str(author_dir / "out"))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    (message,) = [line for line in done.stderr.splitlines() if "error:" in line]
    assert (
        "known_failures keys name no scenario case: ['registraton/*: one invocation per call']"
        in message
    )
    assert not (author_dir / "out").exists()


@pytest.mark.timeout(300)
def test_a_stale_or_misspelled_check_says_what_to_do(author_dir: Path) -> None:
    spec = with_known(
        author_dir,
        **{
            "registration/TR: one invocation per call": "fixed long ago",
            "registration/TR: one invocation per cal": "misspelled check",
        },
    )
    out = author_dir / "results"
    done = scenarios(author_dir, "run", "--backend", spec, *REGISTRATION_TR, "--out", str(out))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "passes now: remove its entry from known_failures" in done.stdout
    problems = json.loads((out / "summary.json").read_text())["problems"]
    assert "registration TR: xpass (a known failure passes now: remove its entry)" in problems
    assert any(
        problem.startswith(
            "known failure 'registration/TR: one invocation per cal' matches no check of the "
            "cases it names: correct or remove it"
        )
        for problem in problems
    ), problems

"""The contract finds real faults: each broken orchestrator fails the clause it breaks."""

import json
from pathlib import Path

import pytest
from suite_runner import run_pytest

CASES = [
    ("PAGES", "test_lookups", {"PAGE-1", "PAGE-2"}),
    ("CLAIM", "test_concurrency", {"ATOM-1", "ATOM-2"}),
    ("RELEASE", "test_blocking", {"BLOCK-3"}),
    ("OWNER", "test_transitions", {"TRANS-1", "TRANS-4"}),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("backend", "module", "broken_clauses"), CASES, ids=[c[0] for c in CASES])
def test_broken_orchestrator_fails_the_clause_it_breaks(
    tmp_path: Path, backend: str, module: str, broken_clauses: set[str]
) -> None:
    report = tmp_path / "report"
    done = run_pytest(
        tmp_path,
        "--pyargs",
        f"pynenc_contract.suite.{module}",
        f"--contract-backend=adapters.broken:{backend}",
        f"--contract-report={report}",
        "-p",
        "no:randomly",
        timeout=540,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    verdicts = json.loads((report / "conformance.json").read_text())["clauses"]
    failed = {clause for clause, result in verdicts.items() if result["verdict"] == "fail"}
    assert broken_clauses <= failed, f"expected {broken_clauses} to fail, failed: {failed}"

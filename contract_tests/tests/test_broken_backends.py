"""The contract finds real faults: each broken copy of one of pynenc-sqlite's components
fails exactly the clauses it breaks.

In `-t ci` each copy runs the suite modules of its clauses (no other clause of those
modules may fail); the `slow` form runs the whole suite per copy (`nox -s
contract_broken`), where no clause but its own may fail.
"""

import json
from pathlib import Path

import pytest
from suite_runner import CONTRACT_TESTS, run_pytest

#: broken copy (spec of its description) -> (suite modules holding its clauses, its clauses)
CASES = {
    "adapters.broken:PAGES": (["test_lookups"], {"PAGE-1", "PAGE-2"}),
    "adapters.broken:CLAIM": (["test_concurrency"], {"ATOM-1", "ATOM-2"}),
    "adapters.broken:RELEASE": (["test_blocking"], {"BLOCK-3"}),
    "adapters.broken:OWNER": (["test_transitions"], {"TRANS-1", "TRANS-2", "TRANS-3", "TRANS-4"}),
    "adapters.broken:RUNNING": (["test_concurrency_control"], {"CC-1", "CC-2"}),
    "adapters.broken:ROUTE": (["test_concurrency_control"], {"CC-3"}),
    "adapters.broken:DEAD_HOLDER": (["test_atomic_service"], {"AS-6"}),
    "adapters.broken:PURGE_RUNNERS": (["test_purge"], {"PURGE-3"}),
    "adapters.broken:TASK_LOOKUP": (["test_isolation", "test_lookups"], {"ISO-1"}),
}
#: Clauses the whole suite finds broken where they reach beyond the copy's modules.
WHOLE_SUITE = {
    "adapters.broken:RELEASE": {"BLOCK-3", "MODEL-1"},
    # Every walk through an owned status breaks when the owner is forgotten.
    "adapters.broken:OWNER": {
        *("REG-2", "TRANS-1", "TRANS-2", "TRANS-3", "TRANS-4", "ATOM-1", "ATOM-2"),
        *("CC-1", "CC-2", "QUERY-1", "PAGE-1", "FILTER-1", "BLOCK-2", "PURGE-1", "ISO-1"),
        *("REC-2", "MODEL-1", "FLOW-2"),
    },
}


def _failed_clauses(tmp_path: Path, backend: str, modules: list[str]) -> set[str]:
    """Run the suite (or ``modules`` of it) on the broken copy ``backend`` (its spec)."""
    report = tmp_path / "report"
    targets = [f"pynenc_contract.suite.{module}" for module in modules]
    done = run_pytest(
        CONTRACT_TESTS,
        "--pyargs",
        *(targets or ["pynenc_contract.suite"]),
        f"--contract-backend={backend}",
        f"--contract-report={report}",
        "-n",
        "2",
        timeout=840,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    verdicts = json.loads((report / "conformance.json").read_text())["clauses"]
    return {clause for clause, result in verdicts.items() if result["verdict"] == "fail"}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", CASES)
def test_broken_copy_fails_the_clauses_it_breaks(tmp_path: Path, backend: str) -> None:
    modules, broken = CASES[backend]
    assert _failed_clauses(tmp_path, backend, modules) == broken


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", CASES)
def test_broken_copy_fails_no_other_clause(tmp_path: Path, backend: str) -> None:
    assert _failed_clauses(tmp_path, backend, []) == WHOLE_SUITE.get(backend, CASES[backend][1])

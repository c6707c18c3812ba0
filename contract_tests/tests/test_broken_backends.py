"""The contract finds real faults: each broken copy of one of pynenc-sqlite's components
fails exactly the clauses it breaks.

The copies and their clauses are the ``CASES`` (and ``WHOLE_SUITE``) of each
``adapters/broken*.py``. In `-t ci` each copy runs the suite modules of its clauses
(no other clause of those modules may fail); the `slow` form runs the whole suite per
copy (`nox -s contract_broken`), where no clause but its own may fail.
"""

import json
from pathlib import Path

import pytest
from suite_runner import CONTRACT_TESTS, run_pytest

from pynenc_contract.backend import import_module, search_directories


def _broken_copies() -> dict[str, tuple[list[str], set[str], set[str]]]:
    """Every broken copy of ``adapters/broken*.py`` by spec: the suite modules holding
    its clauses, its clauses, and the clauses the whole suite finds broken (its own,
    unless the module's ``WHOLE_SUITE`` says more)."""
    search_directories([str(CONTRACT_TESTS)])  # adapters/ is found as an author's package
    copies = {}
    for path in sorted((CONTRACT_TESTS / "adapters").glob("broken*.py")):
        module = import_module(f"adapters.{path.stem}")
        whole_suite = getattr(module, "WHOLE_SUITE", {})
        for name, (modules, clauses) in module.CASES.items():
            spec = f"adapters.{path.stem}:{name}"
            copies[spec] = (modules, clauses, whole_suite.get(name, clauses))
    return copies


CASES = _broken_copies()


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
        *([] if modules else ["-n", "2"]),  # the modules of a few clauses run fast alone
        timeout=840,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    verdicts = json.loads((report / "conformance.json").read_text())["clauses"]
    return {clause for clause, result in verdicts.items() if result["verdict"] == "fail"}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", CASES)
def test_broken_copy_fails_the_clauses_it_breaks(tmp_path: Path, backend: str) -> None:
    modules, broken, _ = CASES[backend]
    assert _failed_clauses(tmp_path, backend, modules) == broken


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", CASES)
def test_broken_copy_fails_no_other_clause(tmp_path: Path, backend: str) -> None:
    assert _failed_clauses(tmp_path, backend, []) == CASES[backend][2]

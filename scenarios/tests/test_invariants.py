"""Every check the scenarios make is listed in the contract, with its clauses or the reason
no clause can check it (pynenc_contract.clauses.SCENARIO_INVARIANTS)."""

import ast
from pathlib import Path

from pynenc_contract.clauses import SCENARIO_INVARIANTS, invariant_for

SCENARIOS = Path(__file__).resolve().parents[1]


def _literal_prefixes(node: ast.expr) -> list[str]:
    """The text of a string literal, the literal start of an f-string, or those of both
    branches of a conditional expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value.rstrip()]
    if isinstance(node, ast.IfExp):
        return [*_literal_prefixes(node.body), *_literal_prefixes(node.orelse)]
    return []


def scenario_checks() -> set[str]:
    """Names of the checks the harness and the scenarios create (``Check(name, ...)``) and
    the constant that names a case that raised."""
    found = set()
    for path in SCENARIOS.rglob("*.py"):
        if "tests" in path.relative_to(SCENARIOS).parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Check"
                and node.args
            ):
                found.update(_literal_prefixes(node.args[0]))
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CASE_RUNS" for t in node.targets
            ):
                found.update(_literal_prefixes(node.value))
    return found


def test_every_scenario_check_is_in_the_contract() -> None:
    checks = scenario_checks()
    assert len(checks) >= 10, checks  # the walk finds the checks at all
    missing = sorted(check for check in checks if invariant_for(check) is None)
    assert missing == [], f"add these to SCENARIO_INVARIANTS in clauses.py: {missing}"


def test_the_contract_lists_no_check_the_scenarios_dropped() -> None:
    checks = scenario_checks()
    stale = [
        item.check
        for item in SCENARIO_INVARIANTS
        if not any(check.startswith(item.check) for check in checks)
    ]
    assert stale == [], f"no scenario makes these checks any more: {stale}"

"""The contract is whole: every clause tested, every abstract method and guarantee covered."""

from pathlib import Path

from pynenc_contract.__main__ import clause_ids_with_tests
from pynenc_contract.clauses import CLAUSES, abstract_methods, coverage_gaps, markdown

CONTRACT_MD = Path(__file__).parents[1] / "CONTRACT.md"


def test_no_clause_method_or_guarantee_is_uncovered() -> None:
    assert coverage_gaps(clause_ids_with_tests()) == []


def test_the_check_reports_what_is_missing() -> None:
    gaps = coverage_gaps(set())
    assert len([gap for gap in gaps if gap.startswith("clause ")]) == len(CLAUSES)
    assert "_atomic_status_transition" in abstract_methods()


def test_contract_md_is_generated_from_the_clauses() -> None:
    assert CONTRACT_MD.read_text() == markdown(), (
        "CONTRACT.md is stale: python -m pynenc_contract markdown > contract_tests/CONTRACT.md"
    )

"""The conformance matrix and the README summary come from the reports alone."""

import json
from pathlib import Path

import pytest

from pynenc_contract import matrix
from pynenc_contract.backend import Component
from pynenc_contract.clauses import CLAUSES, clauses_of


def _report(directory: Path, cell: str, backend: str, python: str, **verdicts: str) -> None:
    clauses = {
        clause: {"verdict": verdicts.get(clause.replace("-", "_"), "pass"), "reason": ""}
        for clause in CLAUSES
    }
    for clause, outcome in clauses.items():
        if outcome["verdict"] == "known-fail":
            outcome["reason"] = f"known failure: [defect-{clause}] why"
    (directory / cell).mkdir()
    data = {"backend": backend, "python": python, "versions": {}, "clauses": clauses}
    (directory / cell / "conformance.json").write_text(json.dumps(data))


def test_reports_of_one_backend_merge_and_a_difference_between_them_fails(
    tmp_path: Path,
) -> None:
    _report(tmp_path, "a-3.12", "mine", "3.12.1", REG_1="known-fail")
    _report(tmp_path, "a-3.13", "mine", "3.13.0", REG_1="known-fail", API_2="fail")
    _report(tmp_path, "b-3.12", "theirs", "3.12.1")
    results = {result.name: result for result in matrix.load(tmp_path)}
    assert results["mine"].pythons == ("3.12.1", "3.13.0")
    assert results["mine"].verdicts["REG-1"][0] == "known-fail"
    differs = ("fail", "differs between Pythons: ['fail', 'pass']")
    assert results["mine"].verdicts["API-2"] == differs
    table = matrix.summary_table(list(results.values()))
    kinds = [*Component, None]
    every_pass = " | ".join(f"{len(clauses_of(k))} / {len(clauses_of(k))}" for k in kinds)
    assert f"| theirs | {every_pass} | none |" in table
    orchestrator = len(clauses_of(Component.ORCHESTRATOR))
    assert f"| mine | {orchestrator - 2} / {orchestrator} (**1 failing**) | " in table
    assert table.rstrip().endswith("| defect-REG-1 (REG-1) |")


def test_a_kind_the_backend_does_not_name_shows_as_not_named(tmp_path: Path) -> None:
    skipped = {item.id.replace("-", "_"): "skip" for item in clauses_of(Component.BROKER)}
    _report(tmp_path, "a-3.12", "orchestrator only", "3.12.1", **skipped)
    (result,) = matrix.load(tmp_path)
    broker_cell = matrix.summary_table([result]).splitlines()[2].split(" | ")[2]
    assert broker_cell == "not named"
    assert "## Broker (BaseBroker)" in matrix.matrix_markdown([result])


def test_the_readme_block_is_regenerated_between_its_markers(tmp_path: Path) -> None:
    _report(tmp_path, "b-3.12", "theirs", "3.12.1")
    results = matrix.load(tmp_path)
    readme = f"intro\n{matrix.START}\nold table\n{matrix.END}\noutro\n"
    fresh = matrix.with_summary(readme, results)
    assert fresh.startswith("intro\n")
    assert fresh.endswith(f"{matrix.END}\noutro\n")
    assert "old table" not in fresh
    assert "| theirs |" in fresh
    assert matrix.with_summary(fresh, results) == fresh
    with pytest.raises(ValueError, match="no block between"):
        matrix.with_summary("no markers", results)


def test_a_report_of_an_older_contract_is_named_with_the_fix(tmp_path: Path) -> None:
    _report(tmp_path, "b-3.12", "theirs", "3.12.1")
    stale = tmp_path / "b-3.12" / "conformance.json"
    data = json.loads(stale.read_text())
    del data["clauses"]["CC-1"]
    stale.write_text(json.dumps({**data, "contract_version": "0.1.0"}))
    with pytest.raises(matrix.StaleReportError, match=r"contract 0\.1\.0, without CC-1 .*run its"):
        matrix.load(tmp_path)

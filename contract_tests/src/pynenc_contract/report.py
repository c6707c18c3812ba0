"""Conformance report: clause x backend, pass / fail / skip, with versions."""

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pynenc_contract import __version__
from pynenc_contract.backend import BackendDescription
from pynenc_contract.clauses import CLAUSES, TITLES, clauses_of

PASS, FAIL, SKIP, XFAIL = "pass", "fail", "skip", "known-fail"
#: How the reason of a known failure starts, in the terminal and the report.
KNOWN_FAILURE = "known failure: "


@dataclass
class ClauseResults:
    """Outcome of every contract test, keyed by test id."""

    outcomes: dict[str, tuple[tuple[str, ...], str, str]] = field(default_factory=dict)

    def add(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        clauses, test_id = properties.get("contract_clauses"), properties.get("contract_test_id")
        if not clauses or not isinstance(test_id, str):
            return
        outcome, reason = _outcome(report)
        previous = self.outcomes.get(test_id)
        # setup, call and teardown each report: a failure in any phase wins, and a
        # passing teardown does not hide the call's outcome.
        if previous and (previous[1] == FAIL or (report.when == "teardown" and outcome == PASS)):
            return
        self.outcomes[test_id] = (tuple(str(clauses).split(",")), outcome, reason)

    def summary(self, backend: BackendDescription) -> "ConformanceReport":
        per_clause: dict[str, list[tuple[str, str, str]]] = {cid: [] for cid in CLAUSES}
        for test_id, (clause_ids, outcome, reason) in self.outcomes.items():
            for cid in clause_ids:
                per_clause.setdefault(cid, []).append((test_id, outcome, reason))
        return ConformanceReport(backend.name, backend.versions(), per_clause)


#: How pytest marks a strict expected failure that passed (xdist puts a header first).
_STRICT_XPASS = "[XPASS(strict)] "


def _outcome(report: pytest.TestReport) -> tuple[str, str]:
    if hasattr(report, "wasxfail"):
        # skipped: it failed as listed; passed: a known failure that may pass
        # (strict=False) did not show this time, and is still listed.
        return XFAIL, str(report.wasxfail)
    if report.failed and _STRICT_XPASS in (text := report.longreprtext):
        known = text.partition(_STRICT_XPASS)[2].strip().removeprefix(KNOWN_FAILURE)
        return FAIL, f"passes now: remove its entry from known_failures ({known})"
    if report.failed:
        return FAIL, _first_line(report.longreprtext)
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return SKIP, reason.removeprefix("Skipped: ")
    return PASS, ""


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return (errors or lines or [""])[0][:200]


@dataclass
class ConformanceReport:
    """Per-clause verdicts for one backend."""

    backend: str
    versions: dict[str, str]
    tests: dict[str, list[tuple[str, str, str]]]

    def verdicts(self) -> dict[str, tuple[str, str]]:
        """Clause id -> (verdict, reason): fail if any test failed, skip if all skipped."""
        result = {}
        for cid, unordered in self.tests.items():
            tests = sorted(unordered)  # the reasons shown do not depend on the run's order
            outcomes = {outcome for _, outcome, _ in tests}
            if not tests:
                result[cid] = ("not run", "")
            elif FAIL in outcomes:
                result[cid] = (FAIL, next(r for _, o, r in tests if o == FAIL))
            elif XFAIL in outcomes:
                result[cid] = (XFAIL, next(r for _, o, r in tests if o == XFAIL))
            elif outcomes == {SKIP}:
                result[cid] = (SKIP, tests[0][2])
            else:
                result[cid] = (PASS, "")
        return result

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for verdict, _ in self.verdicts().values():
            counts[verdict] = counts.get(verdict, 0) + 1
        return counts

    def table(self) -> str:
        """Clause x verdict, a section per kind of component, then the counts."""
        width = max(len(cid) for cid in self.tests)
        verdicts = self.verdicts()
        lines = [f"{'clause'.ljust(width)}  verdict     detail"]
        for kind, title in TITLES.items():
            lines.append(f"-- {title}")
            for item in clauses_of(kind):
                verdict, reason = verdicts[item.id]
                lines.append(f"{item.id.ljust(width)}  {verdict.ljust(10)}  {reason[:90]}")
        versions = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(self.counts().items()))
        lines.append(f"{len(self.tests)} clauses: {counts}  [contract {__version__}; {versions}]")
        return "\n".join(lines)

    def _by_test(self) -> dict[str, dict[str, Any]]:
        """Test id -> its outcome, reason and the clauses it checks."""
        by_test: dict[str, dict[str, Any]] = {}
        for cid, tests in self.tests.items():
            for test_id, outcome, reason in tests:
                entry = by_test.setdefault(
                    test_id, {"outcome": outcome, "reason": reason, "clauses": []}
                )
                entry["clauses"].append(cid)
        for entry in by_test.values():
            entry["clauses"].sort()
        return by_test

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "backend": self.backend,
            "python": platform.python_version(),
            "contract_version": __version__,
            "versions": self.versions,
            "clauses": {
                cid: {"verdict": verdict, "reason": reason}
                for cid, (verdict, reason) in self.verdicts().items()
            },
            "tests": self._by_test(),
        }
        (directory / "conformance.json").write_text(json.dumps(data, indent=2) + "\n")
        rows = [
            f"# Conformance: {self.backend}",
            "",
            "Versions: " + ", ".join(f"{n} {v}" for n, v in self.versions.items()),
            "",
            "| clause | verdict | detail |",
            "|---|---|---|",
        ]
        rows += [
            f"| {cid} | {verdict} | {reason.replace('|', '/')} |"
            for cid, (verdict, reason) in self.verdicts().items()
        ]
        (directory / "conformance.md").write_text("\n".join(rows) + "\n")

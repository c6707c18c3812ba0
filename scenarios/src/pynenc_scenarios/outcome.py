"""The outcome of each case (pass, fail, xfail, xpass, error, skip; see
``expectations.py``),
its JSON form, and the one-screen summaries of a scenario and of a matrix cell."""

import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pynenc_contract import BackendDescription, Check, KnownFailure
from pynenc_scenarios.cases import RUNNER_ABBREVIATIONS, Case
from pynenc_scenarios.expectations import expected_failure
from pynenc_scenarios.nemesis import Nemesis

PYNENC_VERSION = importlib.metadata.version("pynenc")

Outcome = Literal["pass", "fail", "xfail", "xpass", "error", "skip"]


@dataclass
class CaseResult:
    """Checks, metrics and notes of one case, and its outcome."""

    case: Case
    backend: BackendDescription
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    expected: dict[str, KnownFailure] = field(default_factory=dict)
    #: Metric keys the scenario shows per case (see :attr:`Scenario.headline`).
    headline_keys: Sequence[str] = ()
    #: The faults the case injects into its runners, recorded with their times.
    nemesis: Nemesis = field(default_factory=Nemesis)
    #: Why the case did not run on this backend or machine (its outcome is ``skip``).
    skipped: str = ""

    def add(self, check: Check) -> Check:
        """Record a check, with its known failure if the backend or pynenc has one."""
        self.checks.append(check)
        known = expected_failure(self.backend, self.case.check_id(check.name))
        if known is not None:
            self.expected[check.name] = known
        return check

    def known_by(self, check: str) -> str:
        """Whose known failure a check is: ``"backend"`` (its description lists it) or
        ``"pynenc"`` (a defect of pynenc's runners, whatever the backend)."""
        listed = self.backend.known_failure(self.case.check_id(check))
        return "backend" if listed is not None else "pynenc"

    @property
    def outcome(self) -> Outcome:
        """pass, fail (unexpected), xfail (only known failures), xpass, error or skip.

        A case that raised is an ``error``, unless its failed check
        :data:`CASE_RUNS` is a known failure of the backend.
        """
        if self.skipped:
            return "skip"
        if self.error and CASE_RUNS not in self.expected:
            return "error"
        failed = {check.name for check in self.checks if not check.ok}
        if failed - self.expected.keys():
            return "fail"
        if {name for name, known in self.expected.items() if known.strict} - failed:
            return "xpass"
        return "xfail" if failed else "pass"

    @property
    def headline(self) -> str:
        """The first headline metric this case reports, as ``key=value``."""
        keys = [key for key in self.headline_keys if key in self.metrics]
        return format_metrics(self.metrics, keys[:1])

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.case.label,
            **{k: v for k, v in asdict(self.case).items() if k != "params"},
            "params": self.case.params,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 2),
            "checks": [asdict(check) for check in self.checks],
            "metrics": self.metrics,
            "notes": self.notes,
            "faults": [
                {**asdict(fault), "seconds": round(fault.seconds, 2)}
                for fault in self.nemesis.faults
            ],
            "error": self.error,
            "skipped": self.skipped,
            "backend": self.backend.name,
            "headline": self.headline,
            "expected_failures": {
                name: {**asdict(known), "of": self.known_by(name)}
                for name, known in self.expected.items()
            },
        }


def format_metrics(metrics: Mapping[str, Any], keys: Sequence[str]) -> str:
    """``key=value`` of each of ``keys`` that ``metrics`` holds; a float with one decimal
    from 10 up, three significant digits below (a ratio of 0.92 stays 0.92)."""
    parts = []
    for key in keys:
        if key in metrics:
            value = metrics[key]
            if isinstance(value, float):
                value = f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
            parts.append(f"{key}={value}")
    return " ".join(parts)


def print_summary(name: str, results: Sequence[CaseResult], metric_keys: Sequence[str]) -> None:
    """One screen: a line per case, then failed checks and known failures."""
    backend = results[0].backend.name if results else "no case"
    print(f"\n== {name} on {backend} (pynenc {PYNENC_VERSION}) ==")
    for r in results:
        print(
            f"  {r.case.label:<28} {r.outcome.upper():<6} {r.seconds:6.1f}s  "
            f"{format_metrics(r.metrics, metric_keys)}"
        )
    for r in results:
        if r.skipped:
            print(f"  skip [{r.case.label}] {r.skipped}")
        for note in r.notes:
            print(f"  note [{r.case.label}] {note}")
        if r.error:
            print(f"  ERROR [{r.case.label}] {r.error.splitlines()[-1]}")
        for check in r.checks:
            if check.ok and check.name not in r.expected:
                continue
            known = r.expected.get(check.name)
            tag = ("XPASS" if check.ok else "xfail") if known else "FAIL"
            if known and check.ok and not known.strict:
                tag = "pass"
            print(f"  {tag} [{r.case.label}] {check.name}: {check.detail}")
            if known:
                print(f"        known: {known.describe()}")
                if check.ok:
                    print(
                        "        passes now: remove its entry from known_failures"
                        if known.strict
                        else "        passes this time (not strict: a race)"
                    )


#: The check a case that raised fails: a backend can list it as a known failure.
CASE_RUNS = "the case runs to its end"


def case_cell(case: Mapping[str, Any]) -> str:
    """A case in one table cell (JSON form): outcome, seconds and headline metric."""
    return f"{case['outcome'].upper()} {case['seconds']:.0f}s {case.get('headline', '')}".rstrip()


def runner_table(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Scenario results (the ``runs`` of a summary) as rows ``scenario [variant]`` of
    cells per runner type (TR, MTR, PR, PPR)."""
    table: dict[str, dict[str, str]] = {}
    for run in runs:
        for case in run.get("cases", []):
            row = run["scenario"] + (f" [{case['variant']}]" if case["variant"] else "")
            column = RUNNER_ABBREVIATIONS.get(case["runner_type"], case["runner_type"])
            table.setdefault(row, {})[column] = case_cell(case)
    return table

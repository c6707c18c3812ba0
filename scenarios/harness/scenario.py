"""What a scenario declares (:class:`Scenario`) and what its functions receive:
the command-line :class:`Options` and the :class:`Case` being run.

A scenario module holds one ``SCENARIO = Scenario(...)``; ``scenarios/run.py NAME``
runs it and ``scenarios/run_all.py`` runs them all.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynenc_contract import BackendDescription

if TYPE_CHECKING:
    from harness.outcome import CaseResult

RUNNER_TYPES = ("ThreadRunner", "MultiThreadRunner", "ProcessRunner", "PersistentProcessRunner")
RUNNER_ABBREVIATIONS = {
    "ThreadRunner": "TR",
    "MultiThreadRunner": "MTR",
    "ProcessRunner": "PR",
    "PersistentProcessRunner": "PPR",
}


@dataclass(frozen=True)
class Options:
    """Command-line options of a scenario run."""

    quick: bool
    backend_spec: str
    backend: BackendDescription
    runners: tuple[str, ...]
    out: Path
    keep: bool
    verbose: bool
    #: Where runner profiles go (``--profile``); ``None``: runners are not sampled.
    profile: Path | None = None


@dataclass
class Case:
    """One run of a scenario: a runner type on a backend, and a variant."""

    scenario: str
    runner_type: str
    backend: str
    variant: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short unique name of the case inside its scenario and backend."""
        parts = [RUNNER_ABBREVIATIONS.get(self.runner_type, self.runner_type)]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    def check_id(self, check: str) -> str:
        """How known failures name a check of this case: ``scenario/label: check``."""
        return f"{self.scenario}/{self.label}: {check}"


#: Runs one case, recording checks, metrics and notes in the result.
CaseRunner = Callable[[Case, Options, "CaseResult"], None]


@dataclass(frozen=True)
class Scenario:
    """A scenario, declared once in its module (``SCENARIO = Scenario(plan, run, ...)``).

    :param plan: the cases to run for the options.
    :param run: runs one case.
    :param headline: metric keys shown per case in the summaries; the first one a
        case reports is its headline in the matrix report.
    :param quick_runners: runner types of the quick form (default: every type).
    """

    plan: Callable[[Options], list[Case]]
    run: CaseRunner
    headline: tuple[str, ...]
    quick_runners: tuple[str, ...] = RUNNER_TYPES

    @property
    def name(self) -> str:
        """The name of the scenario's module, as ``run.py`` and the results use it."""
        return self.run.__module__

    @property
    def description(self) -> str:
        """What it does and which invariants it checks: its module's docstring."""
        return sys.modules[self.run.__module__].__doc__ or ""

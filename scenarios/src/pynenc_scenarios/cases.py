"""What a scenario's functions receive: the command-line :class:`Options` and the
:class:`Case` being run, and the runner types a case drives."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynenc_contract import BackendDescription

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
    #: Final invocations the throughput scenario stores in each case before its tasks
    #: (``--stored``).
    stored: int = 0

    def case_per_runner(self, scenario: str, **params: Any) -> list["Case"]:
        """One case of ``scenario`` with ``params`` per runner type of the run."""
        return [Case(scenario, runner, self.backend.name, params=params) for runner in self.runners]


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

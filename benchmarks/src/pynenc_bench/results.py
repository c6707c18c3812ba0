"""What a benchmark run measured, and the medians and ratios the report and targets read."""

import math
from dataclasses import dataclass, field
from typing import Any

from pynenc_bench.backends import BackendInfo
from pynenc_bench.e2e import E2E, Profiles
from pynenc_bench.scale import PhaseSummary
from pynenc_bench.timing import median

#: A measured cell: summary numbers (rate, p50, p99, calls), or the error message.
Cell = dict[str, float] | str
#: One scale round: the "walk" and "race" phase summaries.
Round = dict[str, PhaseSummary]


@dataclass(frozen=True)
class Ours:
    """What the targets need to know about a pynenc-sqlite backend of the run."""

    #: The orchestrator's journal mode: its bare-sqlite3 floor is ``bare-<mode>``.
    journal_mode: str | None
    #: Whether every component of its apps is pynenc-sqlite's (not only the orchestrator).
    whole_stack: bool


@dataclass
class Results:
    """Everything measured; serialized as bench.json."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    #: The described backends that ran, by label (the bare floors are not among them).
    backends: dict[str, BackendInfo] = field(default_factory=dict)
    #: Labels of the bare-sqlite3 floors that ran.
    floors: list[str] = field(default_factory=list)
    #: The pynenc-sqlite backends among ``backends`` (the targets are about them).
    ours: dict[str, Ours] = field(default_factory=dict)
    #: left_out[phase][label]: why a described backend did not run in that phase.
    left_out: dict[str, dict[str, str]] = field(default_factory=dict)
    #: suite[backend][op] = one cell per repetition
    suite: dict[str, dict[str, list[Cell]]] = field(default_factory=dict)
    #: growth[backend][op][stored invocations] = cell
    growth: dict[str, dict[str, dict[int, Cell]]] = field(default_factory=dict)
    #: scale[backend][processes] = one Round per repetition, or the error
    scale: dict[str, dict[int, list[Round] | str]] = field(default_factory=dict)
    #: e2e[stack][runner type][runners]: real runners drain tasks
    e2e: E2E = field(default_factory=dict)
    #: e2e_stored[stack][runner type][runners]: the same, with final invocations stored
    e2e_stored: E2E = field(default_factory=dict)
    #: e2e_profiles[stack][runner type]: sampled CPU by component
    e2e_profiles: Profiles = field(default_factory=dict)
    #: Ratios of ours against the bare loop and the built-in orchestrator (reported).
    target_ratios: list[dict[str, Any]] = field(default_factory=list)
    #: Targets of ours, PASS or MISS (reported, never enforced).
    targets: list[dict[str, Any]] = field(default_factory=list)

    # -- roles -----------------------------------------------------------------
    @property
    def builtin(self) -> str | None:
        """The label of pynenc's built-in SQLite orchestrator, when it is in the run."""
        return next((label for label, info in self.backends.items() if info.builtin), None)

    def floor_of(self, label: str) -> str | None:
        """The bare-sqlite3 floor in the journal mode of ours ``label``, when it ran."""
        ours = self.ours.get(label)
        floor = f"bare-{ours.journal_mode}" if ours and ours.journal_mode else None
        return floor if floor in self.floors else None

    # -- summaries ------------------------------------------------------------
    def suite_median(self, backend: str, op: str, key: str = "rate") -> float:
        cells = self.suite.get(backend, {}).get(op, [])
        return median(cell[key] for cell in cells if isinstance(cell, dict))

    def paired_ratio(self, ours: str | None, other: str | None, op: str) -> float:
        """Median over repetitions of ours/other rates, each taken within one repetition
        (NaN when either is not in the run)."""
        if ours is None or other is None:
            return math.nan
        pairs = zip(
            self.suite.get(ours, {}).get(op, []),
            self.suite.get(other, {}).get(op, []),
            strict=False,
        )
        return median(
            a["rate"] / b["rate"]
            for a, b in pairs
            if isinstance(a, dict) and isinstance(b, dict) and b["rate"] > 0
        )

    def growth_cells(self, backend: str, op: str) -> dict[int, dict[str, float]]:
        """Measured cells of one look-up by stored invocations (errors left out)."""
        cells = self.growth.get(backend, {}).get(op, {})
        return {size: cell for size, cell in cells.items() if isinstance(cell, dict)}

    def growth_ratio(self, backend: str, op: str) -> tuple[float, str]:
        """p50 at the largest measured size over p50 at the smallest, and its label."""
        cells = self.growth_cells(backend, op)
        if len(cells) < 2:
            return math.nan, "n/a"
        low, high = min(cells), max(cells)
        return cells[high]["p50"] / cells[low]["p50"], f"{size_label(high)}/{size_label(low)}"

    def rounds(self, backend: str, processes: int) -> list[Round]:
        outcome = self.scale.get(backend, {}).get(processes)
        return outcome if isinstance(outcome, list) else []

    def scale_median(self, backend: str, processes: int, phase: str) -> float:
        return median(r[phase].ops_per_s for r in self.rounds(backend, processes))

    def scale_paired_ratio(self, ours: str, other: str | None, processes: int) -> float:
        """Median of walk-throughput ratios, round by round (both run back to back)."""
        if other is None:
            return math.nan
        pairs = zip(self.rounds(ours, processes), self.rounds(other, processes), strict=False)
        return median(
            a["walk"].ops_per_s / b["walk"].ops_per_s for a, b in pairs if b["walk"].ops_per_s > 0
        )

    def process_counts(self) -> list[int]:
        """The process counts the scale phase measured, ascending."""
        return sorted({count for counts in self.scale.values() for count in counts})


def size_label(size: int) -> str:
    """1000 -> 1k."""
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else f"{size:,}"

"""Results of a benchmark run: medians, paired ratios, targets, Markdown, JSON and the plot."""

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench_backends import BUILTIN, JOURNAL_MODES, OURS
from bench_e2e import E2E, Profiles, e2e_targets, plot_e2e, render_e2e
from bench_scale import PROCESS_COUNTS, PhaseSummary
from bench_timing import median

#: A measured cell: summary numbers (rate, p50, p99, calls), or the error message.
Cell = dict[str, float] | str
#: One scale round: the "walk" and "race" phase summaries.
Round = dict[str, PhaseSummary]


@dataclass
class Results:
    """Everything measured; serialized as bench.json."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    #: suite[backend][op] = one cell per repetition
    suite: dict[str, dict[str, list[Cell]]] = field(default_factory=dict)
    #: growth[backend][op][stored invocations] = cell
    growth: dict[str, dict[str, dict[int, Cell]]] = field(default_factory=dict)
    #: scale[backend][processes] = one Round per repetition, or the error
    scale: dict[str, dict[int, list[Round] | str]] = field(default_factory=dict)
    #: e2e[stack][runner type][runners]: real runners drain tasks
    e2e: E2E = field(default_factory=dict)
    #: e2e_profiles[stack][runner type]: sampled CPU by component
    e2e_profiles: Profiles = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)

    # -- summaries ------------------------------------------------------------
    def suite_median(self, backend: str, op: str, key: str = "rate") -> float:
        cells = self.suite.get(backend, {}).get(op, [])
        return median(cell[key] for cell in cells if isinstance(cell, dict))

    def paired_ratio(self, ours: str, other: str, op: str) -> float:
        """Median over repetitions of ours/other rates, each taken within one repetition."""
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

    def growth_ratio(self, backend: str, op: str) -> tuple[float, str]:
        """p50 at the largest measured size over p50 at the smallest, and its label."""
        cells = {
            size: cell
            for size, cell in self.growth.get(backend, {}).get(op, {}).items()
            if isinstance(cell, dict)
        }
        if len(cells) < 2:
            return math.nan, "n/a"
        low, high = min(cells), max(cells)
        return cells[high]["p50"] / cells[low]["p50"], f"{_size(high)}/{_size(low)}"

    def rounds(self, backend: str, processes: int) -> list[Round]:
        outcome = self.scale.get(backend, {}).get(processes)
        return outcome if isinstance(outcome, list) else []

    def scale_median(self, backend: str, processes: int, phase: str) -> float:
        return median(r[phase].ops_per_s for r in self.rounds(backend, processes))

    def scale_paired_ratio(self, ours: str, other: str, processes: int) -> float:
        """Median of walk-throughput ratios, round by round (both run back to back)."""
        pairs = zip(self.rounds(ours, processes), self.rounds(other, processes), strict=False)
        return median(
            a["walk"].ops_per_s / b["walk"].ops_per_s for a, b in pairs if b["walk"].ops_per_s > 0
        )


# -- targets and failures ------------------------------------------------------------
def evaluate_targets(results: Results) -> None:
    """The issue's targets for ours in WAL, as PASS/MISS lines (never enforced)."""

    def target(name: str, value: float, ok: bool, detail: str) -> None:
        status = "PASS" if ok and math.isfinite(value) else "MISS"
        results.targets.append({"target": name, "status": status, "value": value, "detail": detail})

    r = results
    for op, factor in (("transition", 10), ("get_status", 20), ("register_batch", 5)):
        ratio = r.paired_ratio(OURS, BUILTIN, op)
        ceiling = r.paired_ratio("bare-wal", BUILTIN, op)  # the bare loop's own ratio
        target(
            f"{op}: ours-wal >= {factor}x built-in",
            ratio,
            ratio >= factor,
            f"{_x(ratio)} ({_n(r.suite_median(OURS, op))} vs "
            f"{_n(r.suite_median(BUILTIN, op))} /s; bare sqlite3 does {_x(ceiling)})",
        )
    ratio = r.paired_ratio(OURS, "bare-wal", "transition")
    target(
        "transition: ours-wal >= 60% of bare sqlite3",
        ratio,
        ratio >= 0.6,
        f"{_pct(ratio)} ({_n(r.suite_median(OURS, 'transition'))} vs "
        f"{_n(r.suite_median('bare-wal', 'transition'))} /s)",
    )
    for op in ("cc_args", "cc_task", "cc_task_registered", "get_blocking"):
        ratio, label = r.growth_ratio(OURS, op)
        target(
            f"{op}: p50 at {label} stored within 2x",
            ratio,
            ratio <= 2.0,
            f"{_x(ratio)} ({_us(_growth_p50(r, op, min))} -> {_us(_growth_p50(r, op, max))} µs)",
        )
    single = r.scale_median(OURS, 1, "walk")
    for processes in PROCESS_COUNTS[2:]:
        walk = r.scale_median(OURS, processes, "walk")
        target(
            f"{processes} processes: walk >= 70% of 1 process",
            walk / single,
            walk >= 0.7 * single,
            f"{_pct(walk / single)} ({_n(walk)} vs {_n(single)} transitions/s)",
        )
        ratio = r.scale_paired_ratio(OURS, BUILTIN, processes)
        target(
            f"{processes} processes: walk >= 5x built-in",
            ratio,
            ratio >= 5,
            f"{_x(ratio)} ({_n(walk)} vs {_n(r.scale_median('builtin', processes, 'walk'))} /s)",
        )
        rounds = r.rounds(OURS, processes)
        errors = sum(rnd[phase].errors for rnd in rounds for phase in ("walk", "race"))
        doubles = sum(rnd["race"].double_claims for rnd in rounds)
        bad = sum(rnd["race"].unclaimed + rnd["race"].wrong_owner for rnd in rounds)
        target(
            f"{processes} processes: zero errors",
            errors,
            bool(rounds) and errors == 0,
            f"{errors} errors in {len(rounds)} rounds",
        )
        target(
            f"{processes} processes: zero double claims",
            doubles,
            bool(rounds) and doubles == bad == 0,
            f"{doubles} double claims, {bad} unclaimed or wrong stored owner, "
            f"{sum(rnd['race'].attempts for rnd in rounds):,} claim attempts",
        )
    for name, value, met, detail in e2e_targets(r.e2e, r.e2e_profiles):
        target(name, value, met, detail)


def _growth_p50(results: Results, op: str, pick: Callable[[Sequence[int]], int]) -> float:
    cells = {
        s: c for s, c in results.growth.get(OURS, {}).get(op, {}).items() if isinstance(c, dict)
    }
    return cells[pick(list(cells))]["p50"] if cells else math.nan


def failures(results: Results) -> list[str]:
    """Reasons for a non-zero exit: errors of ours or of the bare reference, double claims,
    a task of ours lost or run twice end to end."""
    reasons = [
        f"{backend} {op}: {cell}"
        for backend, ops in results.suite.items()
        if backend.startswith(("sqlite-", "bare-"))
        for op, cells in ops.items()
        for cell in cells
        if isinstance(cell, str)
    ]
    for backend, counts in results.scale.items():
        for processes, outcome in counts.items() if backend.startswith("sqlite-") else ():
            if isinstance(outcome, str):
                reasons.append(f"{backend} x{processes}: {outcome}")
                continue
            bad = sum(
                rnd["walk"].errors
                + rnd["race"].errors
                + rnd["race"].double_claims
                + rnd["race"].unclaimed
                + rnd["race"].wrong_owner
                for rnd in outcome
            )
            if bad:
                reasons.append(f"{backend} x{processes}: {bad} errors or bad claims")
    reasons += [
        f"e2e {stack} {runner} x{count}: "
        + (cell if isinstance(cell, str) else ", ".join(cell["failed"]))
        for stack, runners in results.e2e.items()
        if stack.startswith("sqlite-")
        for runner, cells in runners.items()
        for count, cell in cells.items()
        if isinstance(cell, str) or cell["failed"]
    ]
    return reasons


# -- Markdown ------------------------------------------------------------------------
def _n(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else "-"


def _x(value: float) -> str:
    return f"{value:.2f}x" if math.isfinite(value) else "-"


def _pct(value: float) -> str:
    return f"{value:.0%}" if math.isfinite(value) else "-"


def _us(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    return f"{seconds * 1e6:,.0f}" if seconds >= 1e-3 else f"{seconds * 1e6:.1f}"


def _size(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 else str(size)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    align = ["---", *(["---:"] * (len(headers) - 1))]
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _header(r: Results) -> list[str]:
    m, s = r.machine, r.settings
    return [
        "# pynenc orchestrator benchmark",
        "",
        f"Machine: {m['cpu_count']} CPUs ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"pynenc {m['pynenc']}, pynenc-sqlite {m['pynenc_sqlite']}, "
        f"pynenc-redis {m['pynenc_redis']}, redis-server {m['redis_server']}; {m['platform']}.",
        f"Run: {'quick' if s['quick'] else 'full'}, {s['repetitions']} repetitions, "
        f"{s['elapsed_s']:.0f}s in all. Cells are medians over repetitions; ratios are medians "
        "of ratios taken within each repetition (ours/other: above 1 means ours is faster).",
        "",
        "## Targets (ours, WAL, synchronous=normal)",
        "",
        *(f"- {t['status']} {t['target']}: {t['detail']}" for t in r.targets),
        "",
    ]


def _suite(r: Results) -> list[str]:
    backends = [b for b, ops in r.suite.items() if ops]
    if not backends:
        return []
    ops = list(dict.fromkeys(op for b in backends for op in r.suite[b]))

    def grid(render: Callable[[str, str], str]) -> list[list[str]]:
        def cell(b: str, op: str) -> str:
            cells = r.suite[b].get(op)
            if cells is None:
                return "n/a"
            return render(b, op) if any(isinstance(c, dict) for c in cells) else "error"

        return [[op, *(cell(b, op) for b in backends)] for op in ops]

    pairs = [(OURS, other) for other in (BUILTIN, "redis", "memory")]
    pairs += [(f"sqlite-{mode}", f"bare-{mode}") for mode in JOURNAL_MODES]
    pairs = [(a, b) for a, b in pairs if a in r.suite and b in r.suite]
    s = r.settings
    return [
        f"## Single process: throughput (items/s; {s['suite_n']} + {s['suite_n']} invocations "
        "per run)",
        "",
        *_table(["op", *backends], grid(lambda b, op: _n(r.suite_median(b, op)))),
        "## Single process: latency p50 / p99 (µs per call)",
        "",
        *_table(
            ["op", *backends],
            grid(
                lambda b, op: (
                    f"{_us(r.suite_median(b, op, 'p50'))} / {_us(r.suite_median(b, op, 'p99'))}"
                )
            ),
        ),
        "## Single process: paired ratios (ours/other throughput)",
        "",
        *_table(
            ["op", *(f"{a}/{b}" for a, b in pairs)],
            [[op, *(_x(r.paired_ratio(a, b, op)) for a, b in pairs)] for op in ops],
        ),
    ]


def _growth(r: Results) -> list[str]:
    if not r.growth:
        return []
    sizes = sorted({size for ops in r.growth.values() for cells in ops.values() for size in cells})

    def cell(cells: dict[int, Cell], size: int) -> str:
        found = cells.get(size)
        if found is None:
            return "skip"
        return _us(found["p50"]) if isinstance(found, dict) else "error"

    rows = []
    for backend, ops in r.growth.items():
        for op, cells in ops.items():
            ratio, label = r.growth_ratio(backend, op)
            rows.append(
                [backend, op, *(cell(cells, size) for size in sizes), f"{_x(ratio)} ({label})"]
            )
    return [
        "## Growth: p50 latency (µs) by stored invocations",
        "",
        "Half of the stored invocations are SUCCESS, half REGISTERED, all with indexed "
        "arguments; 50 waiting edges.",
        "",
        *_table(["backend", "op", *(_size(size) for size in sizes), "growth"], rows),
    ]


def _phase_latency(rounds: list[Round], phase: str) -> str:
    return (
        f"{_us(median(rnd[phase].p50 for rnd in rounds))} / "
        f"{_us(median(rnd[phase].p99 for rnd in rounds))}"
    )


def _scale(r: Results) -> list[str]:
    if not r.scale:
        return []
    rows = []
    for backend, counts in r.scale.items():
        single = r.scale_median(backend, 1, "walk")
        for processes, outcome in counts.items():
            if isinstance(outcome, str):
                rows.append([backend, str(processes), "error", *["-"] * 8])
                continue
            walk = r.scale_median(backend, processes, "walk")
            rows.append(
                [
                    backend,
                    str(processes),
                    _n(walk),
                    _phase_latency(outcome, "walk"),
                    _pct(walk / single),
                    "-"
                    if backend == BUILTIN
                    else _x(r.scale_paired_ratio(backend, BUILTIN, processes)),
                    _n(r.scale_median(backend, processes, "race")),
                    _phase_latency(outcome, "race"),
                    str(sum(rnd["race"].double_claims for rnd in outcome)),
                    str(sum(rnd["race"].unclaimed + rnd["race"].wrong_owner for rnd in outcome)),
                    str(sum(rnd[phase].errors for rnd in outcome for phase in ("walk", "race"))),
                ]
            )
    return [
        f"## Scale: OS processes on one store (medians over rounds of "
        f"{r.settings['scale_seconds']}s per phase)",
        "",
        "walk: each process takes its own invocations REGISTERED -> PENDING -> RUNNING -> "
        "SUCCESS (transitions/s, all processes together); race: every process claims the same "
        "invocations (claim attempts/s). Lost claims are not errors; 'bad' counts unclaimed "
        "invocations and stored owners that differ from the winner.",
        "",
        *_table(
            [
                "backend",
                "procs",
                "walk /s",
                "walk p50 / p99 µs",
                "vs 1 proc",
                "vs built-in",
                "race /s",
                "race p50 / p99 µs",
                "double claims",
                "bad",
                "errors",
            ],
            rows,
        ),
    ]


def _notes(r: Results) -> list[str]:
    notes = list(r.skipped)
    for backend, ops in r.suite.items():
        for op, cells in ops.items():
            notes += sorted({f"{backend} {op}: {c}" for c in cells if isinstance(c, str)})
    notes += [
        f"growth {backend} {op} {_size(size)}: {c}"
        for backend, ops in r.growth.items()
        for op, cells in ops.items()
        for size, c in cells.items()
        if isinstance(c, str)
    ]
    for backend, counts in r.scale.items():
        for processes, outcome in counts.items():
            samples = (
                [outcome]
                if isinstance(outcome, str)
                else sorted(
                    {
                        e
                        for rnd in outcome
                        for phase in ("walk", "race")
                        for e in rnd[phase].error_samples
                    }
                )
            )
            notes += [f"scale {backend} x{processes}: {sample}" for sample in samples]
    return (
        ["## Errors and skipped cells", "", *(f"- {note}" for note in notes), ""] if notes else []
    )


def render_markdown(results: Results) -> str:
    """The human-readable report."""
    sections = (_header, _suite, _growth, _scale, _e2e, _notes)
    return "\n".join(line for section in sections for line in section(results))


def _e2e(r: Results) -> list[str]:
    return render_e2e(r.e2e, r.e2e_profiles)


# -- files ---------------------------------------------------------------------------
def plot_scale(results: Results, path: Path) -> None:
    """Total throughput against process count, one line per backend (walk and race)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, phase, unit in (
        (axes[0], "walk", "transitions/s"),
        (axes[1], "race", "claim attempts/s"),
    ):
        for backend, counts in results.scale.items():
            points = [(p, results.scale_median(backend, p, phase)) for p in counts]
            finite = [(p, v) for p, v in points if math.isfinite(v) and v > 0]
            if finite:
                axis.plot([p for p, _ in finite], [v for _, v in finite], marker="o", label=backend)
        axis.set_xscale("log", base=2)
        axis.set(
            yscale="log",
            xlabel="OS processes",
            ylabel=unit,
            title=f"{phase}: total throughput",
        )
        axis.set_xticks(PROCESS_COUNTS, [str(p) for p in PROCESS_COUNTS])
        axis.xaxis.set_minor_locator(NullLocator())
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(
        f"Throughput against OS processes on one store ({results.machine['cpu_count']} CPUs, "
        f"SQLite {results.machine['sqlite']}; medians over rounds)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_outputs(results: Results, out: Path) -> str:
    """Write bench.md, bench.json and the plots of the phases that ran; return the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(results)
    (out / "bench.md").write_text(markdown + "\n", encoding="utf-8")
    payload = asdict(results)
    payload["suite_medians"] = {
        b: {op: {k: results.suite_median(b, op, k) for k in ("rate", "p50", "p99")} for op in ops}
        for b, ops in results.suite.items()
    }
    payload["suite_ratios"] = {
        f"{a}/{b}": {op: results.paired_ratio(a, b, op) for op in results.suite.get(a, {})}
        for a, b in [
            (OURS, BUILTIN),
            (OURS, "redis"),
            (OURS, "memory"),
            *((f"sqlite-{m}", f"bare-{m}") for m in JOURNAL_MODES),
        ]
        if a in results.suite and b in results.suite
    }
    payload["scale_medians"] = {
        b: {
            p: {phase: results.scale_median(b, p, phase) for phase in ("walk", "race")}
            for p in counts
        }
        for b, counts in results.scale.items()
    }
    text = json.dumps(_jsonable(payload), indent=1, default=str, allow_nan=False)
    (out / "bench.json").write_text(text + "\n", encoding="utf-8")
    if results.scale:
        plot_scale(results, out / "bench_scale.png")
    if results.e2e:
        m = results.machine
        plot_e2e(
            results.e2e,
            out / "bench_e2e.png",
            f"End to end: tasks/s with real runners ({m['cpu_count']} CPUs, one run)",
        )
    return markdown


def _jsonable(value: object) -> object:
    """NaN and infinities become null; containers are converted recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def print_markdown(markdown: str) -> None:
    """Rendered with rich on a terminal, plain Markdown otherwise (logs, pipes)."""
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.markdown import Markdown
        except ImportError:
            pass
        else:
            Console().print(Markdown(markdown))
            return
    print(markdown)

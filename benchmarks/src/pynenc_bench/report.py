"""The report of a benchmark run: Markdown, JSON and the charts."""

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from pynenc_bench.e2e import plot_e2e, render_e2e, render_stored
from pynenc_bench.results import Cell, Results, Round, size_label
from pynenc_bench.timing import median


def failures(results: Results) -> list[str]:
    """Reasons for a non-zero exit: errors of ours (pynenc-sqlite) or of the bare
    reference, double claims of ours, a task of ours lost or run twice end to end."""
    strict = {*results.ours, *results.floors}
    reasons = [
        f"{backend} {op}: {cell}"
        for backend, ops in results.suite.items()
        if backend in strict
        for op, cells in ops.items()
        for cell in cells
        if isinstance(cell, str)
    ]
    for backend, counts in results.scale.items():
        for processes, outcome in counts.items() if backend in strict else ():
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
        f"{phase} {stack} {runner} x{count}: "
        + (cell if isinstance(cell, str) else ", ".join(cell["failed"]))
        for phase, e2e in (("e2e", results.e2e), ("e2e stored", results.e2e_stored))
        for stack, runners in e2e.items()
        if stack in strict
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
        "of ratios taken within each repetition (a/b above 1 means a is faster).",
        "",
        "Backends (by the ids given to --backend):",
        "",
        *(
            f"- {label}: {info.name} (`{info.spec}`, orchestrator `{info.orchestrator}`"
            f"{'' if info.cross_process else '; one process only'}"
            f"{'; the built-in reference' if info.builtin else ''})"
            for label, info in r.backends.items()
        ),
        *(
            f"- {floor}: bare sqlite3 loop, journal mode {floor.removeprefix('bare-')} "
            "(the floor: a transition's minimum work on one kept connection)"
            for floor in r.floors
        ),
        "",
    ]


def _targets(r: Results) -> list[str]:
    """Ours against the bare loop and the built-in orchestrator (only when ours ran)."""
    if not r.ours:
        return []
    described = ", ".join(
        f"{label} ({ours.journal_mode or 'journal mode unknown'}; "
        f"{'every component' if ours.whole_stack else 'the orchestrator only'})"
        for label, ours in r.ours.items()
    )
    lines = [
        "## Targets: pynenc-sqlite against bare sqlite3 and the built-in orchestrator",
        "",
        f"pynenc-sqlite in this run: {described}. Built-in: {r.builtin or 'not in this run'}. "
        "'vs bare' compares with the bare sqlite3 loop in the same journal mode; 'bare vs "
        "built-in' is what that loop's minimum work gets against the built-in orchestrator. "
        "Ratios are reported; targets print PASS or MISS and are never enforced.",
        "",
    ]
    suite = [row for row in r.target_ratios if row["phase"] == "suite"]
    if suite:
        lines += _table(
            ["backend", "op", "items/s", "vs built-in", "bare vs built-in", "vs bare"],
            [
                [
                    str(row["backend"]),
                    str(row["op"]),
                    _n(row["rate"]),
                    _x(row["vs_builtin"]),
                    _x(row["floor_vs_builtin"]),
                    f"{_x(row['vs_floor'])} ({row['floor'] or 'no bare run'})",
                ]
                for row in suite
            ],
        )
    e2e = [row for row in r.target_ratios if row["phase"] == "e2e"]
    if e2e:
        lines += _table(
            ["backend", "runner type", "tasks/s (x4)", "built-in tasks/s", "vs built-in"],
            [
                [
                    str(row["backend"]),
                    str(row["runner"]),
                    _n(row["tasks_per_s"]),
                    _n(row["builtin_tasks_per_s"]),
                    _x(row["vs_builtin"]),
                ]
                for row in e2e
            ],
        )
    if r.targets:
        names = list(dict.fromkeys(t["target"] for t in r.targets))
        found = {(t["target"], t["backend"]): t for t in r.targets}

        def cell(name: str, label: str) -> str:
            t = found.get((name, label))
            return f"{t['status']} {t['detail']}" if t else "-"

        lines += _table(
            ["target", *r.ours],
            [[name, *(cell(name, label) for label in r.ours)] for name in names],
        )
    return lines


def suite_pairs(r: Results) -> list[tuple[str, str]]:
    """Every described backend against the built-in orchestrator, when both ran the suite."""
    builtin = r.builtin
    if builtin not in r.suite:
        return []
    return [(label, builtin) for label in r.backends if label in r.suite and label != builtin]


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

    pairs = suite_pairs(r)
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
        *(
            [
                "## Single process: paired ratios against the built-in orchestrator "
                "(backend/built-in throughput)",
                "",
                *_table(
                    ["op", *(f"{a}/{b}" for a, b in pairs)],
                    [[op, *(_x(r.paired_ratio(a, b, op)) for a, b in pairs)] for op in ops],
                ),
            ]
            if pairs
            else []
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
        *_table(["backend", "op", *(size_label(size) for size in sizes), "growth"], rows),
    ]


def _phase_latency(rounds: list[Round], phase: str) -> str:
    return (
        f"{_us(median(rnd[phase].p50 for rnd in rounds))} / "
        f"{_us(median(rnd[phase].p99 for rnd in rounds))}"
    )


def left_out(r: Results, phase: str) -> list[str]:
    """The line naming the backends a phase left out, and why (none when it took all)."""
    found = r.left_out.get(phase, {})
    if not found:
        return []
    return ["Left out: " + "; ".join(f"{label} ({why})" for label, why in found.items()) + "."]


def _scale(r: Results) -> list[str]:
    notes = left_out(r, "scale")
    if not r.scale and not notes:
        return []
    builtin = r.builtin
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
                    if backend == builtin
                    else _x(r.scale_paired_ratio(backend, builtin, processes)),
                    _n(r.scale_median(backend, processes, "race")),
                    _phase_latency(outcome, "race"),
                    str(sum(rnd["race"].double_claims for rnd in outcome)),
                    str(sum(rnd["race"].unclaimed + rnd["race"].wrong_owner for rnd in outcome)),
                    str(sum(rnd[phase].errors for rnd in outcome for phase in ("walk", "race"))),
                ]
            )
    heading = [
        f"## Scale: OS processes on one store (medians over rounds of "
        f"{r.settings['scale_seconds']}s per phase)",
        "",
        *(line for note in notes for line in (note, "")),
    ]
    if not rows:
        return heading
    return [
        *heading,
        "walk: each process takes its own invocations REGISTERED -> PENDING -> RUNNING -> "
        "SUCCESS (transitions/s, all processes together); race: every process claims the same "
        "invocations (claim attempts/s). Lost claims are not errors; 'bad' counts unclaimed "
        "invocations and stored owners that differ from the winner; 'vs built-in' is the "
        f"walk throughput against {builtin or 'the built-in orchestrator (not in this run)'}.",
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
        f"growth {backend} {op} {size_label(size)}: {c}"
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
    sections = (_header, _targets, _suite, _growth, _scale, _e2e, _notes)
    return "\n".join(line for section in sections for line in section(results))


def _e2e(r: Results) -> list[str]:
    return [
        *render_e2e(r.e2e, r.e2e_profiles, left_out(r, "e2e")),
        *render_stored(r.e2e_stored, r.settings["e2e_stored"], left_out(r, "e2e-stored")),
    ]


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
        ticks = results.process_counts()
        axis.set_xticks(ticks, [str(p) for p in ticks])
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
            *suite_pairs(results),
            *((ours, results.floor_of(ours)) for ours in results.ours),
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
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(markdown))
        return
    print(markdown)

"""Benchmark of pynenc orchestrator backends, side by side in one run.

Backends: ours (PynencSQLiteOrchestrator) in each journal mode with
synchronous=normal, pynenc's built-in SQLiteOrchestrator and MemOrchestrator,
pynenc-redis against a private redis-server on 127.0.0.1 (skipped when
redis-server is missing), and a bare-sqlite3 reference loop per journal mode.

Phases:
  suite   single process, every operation, interleaved backends per repetition
  growth  look-ups with 1k, 10k and 100k stored invocations
  scale   1, 2, 4 and 8 OS processes on one store: status walks and a claim race

Writes bench.md, bench.json and bench_scale.png to --out and prints the
Markdown. Targets are reported as PASS/MISS, never enforced: the exit status
is 1 only when the benchmark crashes, when ours (or the bare reference) raises
an error, or when ours lets two processes claim the same invocation.
"""

import argparse
import json
import math
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus

from bench_backends import (
    JOURNAL_MODES,
    BackendSpec,
    Environment,
    Handle,
    all_specs,
    redis_server,
)
from bench_scale import WALK, PhaseSummary, run_scale
from bench_timing import Timing, measure, median

RUNNER = "bench-runner"
FINAL = InvocationStatus.get_final_statuses()
REGISTERED = [InvocationStatus.REGISTERED]
QUEUED_OR_RUNNING = [InvocationStatus.PENDING, InvocationStatus.RUNNING]
PROCESS_COUNTS = (1, 2, 4, 8)
#: An operation: name, the call, its arguments (one call each), items per call.
Op = tuple[str, Callable[[Any], object], Sequence[Any], int]
#: A measured cell: summary numbers, or the error message.
Cell = dict[str, float] | str


@dataclass(frozen=True)
class Settings:
    """Sizes and durations of one run (``--quick`` shrinks them)."""

    quick: bool
    repetitions: int
    phases: tuple[str, ...]
    suite_n: int = 1000
    suite_n_rollback: int = 200
    suite_cap_s: float = 5.0
    growth_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    growth_calls: int = 200
    growth_cap_s: float = 1.0
    growth_fill_budget_s: float = 150.0
    scale_specs: tuple[str, ...] = (*(f"ours-{mode}" for mode in JOURNAL_MODES), "builtin")
    scale_seconds: float = 1.5

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Settings":
        phases = tuple(args.phases.split(","))
        if not args.quick:
            return cls(False, args.repetitions or 3, phases)
        return cls(
            True, args.repetitions or 2, phases, suite_n=300, suite_n_rollback=100,
            growth_sizes=(1_000, 10_000), growth_calls=100, growth_cap_s=0.3,
            growth_fill_budget_s=30.0, scale_specs=("ours-wal", "builtin"), scale_seconds=0.5,
        )

    def suite_size(self, spec: BackendSpec) -> int:
        """Invocations per suite run: fsync-bound rollback journals get fewer."""
        rollback = spec.journal_mode not in (None, "wal") and spec.family in ("ours", "bare")
        return self.suite_n_rollback if rollback else self.suite_n


@dataclass
class Results:
    """Everything measured; serialized as bench.json."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    #: suite[backend][op] = one cell per repetition
    suite: dict[str, dict[str, list[Cell]]] = field(default_factory=dict)
    #: growth[backend][op][size] = cell
    growth: dict[str, dict[str, dict[int, Cell]]] = field(default_factory=dict)
    #: scale[backend][processes] = per round {"walk": ..., "race": ...}, or the error
    scale: dict[str, dict[int, list[dict[str, PhaseSummary]] | str]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)


# -- operations -----------------------------------------------------------------
def lookup_ops(h: Handle, stored: Sequence[DistributedInvocation[Any, Any]], calls: int,
               rng: random.Random) -> Iterator[Op]:
    """Read-only look-ups over ``stored`` (used by the suite and the growth phase)."""
    o, task = h.orchestrator, h.task
    ids = [inv.invocation_id for inv in stored]
    few = max(10, calls // 10)
    yield ("get_status", lambda i: o.get_invocation_status(i), rng.choices(ids, k=calls), 1)
    yield ("filter_by_status", lambda batch: o.filter_by_status(batch, FINAL),
           [rng.sample(ids, min(50, len(ids))) for _ in range(few)], 1)
    yield ("cc_args", lambda inv: next(o.get_existing_invocations(
        task, inv.call.serialized_arguments, REGISTERED), None), rng.choices(stored, k=calls), 1)
    yield ("cc_task", lambda _: next(o.get_existing_invocations(
        task, None, QUEUED_OR_RUNNING), None), range(few), 1)
    yield ("cc_task_registered", lambda _: next(o.get_existing_invocations(
        task, None, REGISTERED), None), range(few), 1)
    yield ("get_blocking", lambda _: list(o.get_blocking_invocations(10)), range(few), 1)
    yield ("count", lambda _: o.count_invocations(), range(few), 1)
    yield ("paginate_deep", lambda _: o.get_invocation_ids_paginated(
        limit=50, offset=max(0, len(ids) - 50)), range(few), 1)


def suite_ops(h: Handle, n: int, rng: random.Random) -> Iterator[Op]:
    """Every operation once over ``n`` + ``n`` fresh invocations, in dependency order."""
    o = h.orchestrator
    one, batch = h.invocations(n), h.invocations(n)
    half, few = n // 2, max(10, n // 10)
    yield ("register_one", lambda inv: o._register_new_invocations([inv], RUNNER), one, 1)
    yield ("register_batch", lambda chunk: o._register_new_invocations(chunk, RUNNER),
           [batch[i:i + 100] for i in range(0, n, 100)], 100)
    yield ("transition", lambda step: o._atomic_status_transition(step[0], step[1], RUNNER),
           [(inv.invocation_id, status) for inv in batch for status in WALK], 1)
    yield ("index_args", lambda inv: o.index_arguments_for_concurrency_control(inv),
           one + batch, 1)
    yield ("waiting_for_results", lambda pair: o.waiting_for_results(pair[0], [pair[1]]),
           [(one[i].invocation_id, one[half + i].invocation_id) for i in range(half)], 1)
    yield from lookup_ops(h, one + batch, n, rng)
    yield ("release_waiters", lambda i: o.release_waiters(i),
           [inv.invocation_id for inv in one[half:]], 1)
    yield ("heartbeat", lambda i: o.register_runner_heartbeats(
        [f"runner-{i % 20}"], consumed_queues=["default"]), range(2 * few), 1)
    yield ("active_runners", lambda _: o.get_active_runners(), range(few), 1)


def run_op(spec: BackendSpec, op: Op, cap_s: float) -> Cell | None:
    """Measure one operation; ``None`` when the backend does not offer it."""
    name, call, args, items = op
    if spec.ops is not None and name not in spec.ops:
        return None
    try:
        timing = measure(call, args, items_per_call=items, max_seconds=cap_s)
    except Exception as error:  # a finding about that backend, recorded per cell
        return f"{type(error).__name__}: {error}"[:300]
    return _cell(timing)


def _cell(timing: Timing) -> dict[str, float]:
    return {"rate": timing.rate, "p50": timing.percentile(0.50),
            "p99": timing.percentile(0.99), "calls": timing.calls}


# -- phases -----------------------------------------------------------------------
def run_suite(specs: list[BackendSpec], env: Environment, settings: Settings,
              results: Results) -> None:
    """Single process: every backend per repetition, in a rotated order."""
    rng = random.Random(1)
    for rep in range(settings.repetitions):
        shift = rep % len(specs)
        for spec in specs[shift:] + specs[:shift]:
            log(f"suite rep {rep + 1}/{settings.repetitions}: {spec.name}")
            handle = spec.open(env, f"suite-{spec.name}-{rep}-{uuid.uuid4().hex[:6]}")
            try:
                for op in suite_ops(handle, settings.suite_size(spec), rng):
                    cell = run_op(spec, op, settings.suite_cap_s)
                    if cell is not None:
                        results.suite.setdefault(spec.name, {}).setdefault(op[0], []).append(cell)
            finally:
                handle.close()


def run_growth(specs: list[BackendSpec], env: Environment, settings: Settings,
               results: Results) -> None:
    """The look-ups (and a claim) at growing store sizes; skips sizes past the fill budget."""
    rng = random.Random(2)
    for spec in specs:
        handle = spec.open(env, f"growth-{spec.name}-{uuid.uuid4().hex[:6]}")
        stored: list[DistributedInvocation[Any, Any]] = []
        claimable: list[str] = []
        fill_rate = math.inf
        cells = results.growth.setdefault(spec.name, {})
        try:
            for size in settings.growth_sizes:
                needed = size - len(stored)
                if needed / fill_rate > settings.growth_fill_budget_s:
                    results.skipped.append(
                        f"growth {spec.name} at {size:,}: filling would take about "
                        f"{needed / fill_rate:.0f}s (> {settings.growth_fill_budget_s:.0f}s budget)")
                    break
                log(f"growth {spec.name}: filling to {size:,}")
                fill_rate = _fill(handle, stored, claimable, needed)
                for op in lookup_ops(handle, stored, settings.growth_calls, rng):
                    _store_growth(cells, op[0], size, run_op(spec, op, settings.growth_cap_s))
                claims = [claimable.pop() for _ in range(min(settings.growth_calls, len(claimable)))]
                claim = ("transition", lambda i: handle.orchestrator._atomic_status_transition(
                    i, InvocationStatus.PENDING, RUNNER), claims, 1)
                _store_growth(cells, "transition", size, run_op(spec, claim, settings.growth_cap_s))
        finally:
            handle.close()


def _fill(handle: Handle, stored: list[DistributedInvocation[Any, Any]],
          claimable: list[str], count: int) -> float:
    """Register and index ``count`` invocations; 50 of the first wait on 50 others."""
    started = time.perf_counter()
    orchestrator = handle.orchestrator
    new = handle.invocations(count)
    for first in range(0, count, 1000):
        orchestrator._register_new_invocations(new[first:first + 1000], RUNNER)
    for invocation in new:
        orchestrator.index_arguments_for_concurrency_control(invocation)
    if not stored:
        for waiter, waited in zip(new[:50], new[50:100], strict=True):
            orchestrator.waiting_for_results(waiter.invocation_id, [waited.invocation_id])
        claimable.extend(inv.invocation_id for inv in new[100:])
    else:
        claimable.extend(inv.invocation_id for inv in new)
    random.Random(count).shuffle(claimable)
    stored.extend(new)
    return count / (time.perf_counter() - started)


def _store_growth(cells: dict[str, dict[int, Cell]], name: str, size: int,
                  cell: Cell | None) -> None:
    if cell is not None:
        cells.setdefault(name, {})[size] = cell


def run_scale_phase(specs: list[BackendSpec], env: Environment, settings: Settings,
                    results: Results) -> None:
    """Process counts outermost, so that backends at one count run back to back."""
    for processes in PROCESS_COUNTS:
        for spec in specs:
            rate = median(
                cell["rate"] for cell in results.suite.get(spec.name, {}).get("transition", [])
                if isinstance(cell, dict))
            rate = rate if math.isfinite(rate) else 5000.0
            work = rate * settings.scale_seconds * 1.5
            walk_pool = int(min(max(work / 3, 30 * processes), 60_000))
            race_pool = int(min(max(work / processes, 100), 60_000))
            log(f"scale {spec.name}: {processes} processes")
            try:
                outcome: list[dict[str, PhaseSummary]] | str = run_scale(
                    spec, env, processes, settings.repetitions, settings.scale_seconds,
                    walk_pool, race_pool)
            except Exception as error:
                outcome = f"{type(error).__name__}: {error}"[:2000]
            results.scale.setdefault(spec.name, {})[processes] = outcome


# -- summaries and targets ----------------------------------------------------------
def suite_median(results: Results, backend: str, op: str, key: str = "rate") -> float:
    return median(cell[key] for cell in results.suite.get(backend, {}).get(op, [])
                  if isinstance(cell, dict))


def paired_ratio(results: Results, ours: str, other: str, op: str) -> float:
    """Median over repetitions of ours/other, each ratio within one repetition."""
    mine = results.suite.get(ours, {}).get(op, [])
    theirs = results.suite.get(other, {}).get(op, [])
    return median(a["rate"] / b["rate"] for a, b in zip(mine, theirs, strict=False)
                  if isinstance(a, dict) and isinstance(b, dict) and b["rate"] > 0)


def growth_ratio(results: Results, backend: str, op: str) -> tuple[float, str]:
    """p50 at the largest measured size over p50 at the smallest, and the label."""
    cells = {size: cell for size, cell in results.growth.get(backend, {}).get(op, {}).items()
             if isinstance(cell, dict)}
    if len(cells) < 2:
        return math.nan, "n/a"
    low, high = min(cells), max(cells)
    return cells[high]["p50"] / cells[low]["p50"], f"{_size(high)}/{_size(low)}"


def scale_rounds(results: Results, backend: str, processes: int) -> list[dict[str, PhaseSummary]]:
    outcome = results.scale.get(backend, {}).get(processes)
    return outcome if isinstance(outcome, list) else []


def scale_median(results: Results, backend: str, processes: int, phase: str) -> float:
    return median(r[phase].ops_per_s for r in scale_rounds(results, backend, processes))


def scale_paired_ratio(results: Results, ours: str, other: str, processes: int) -> float:
    pairs = zip(scale_rounds(results, ours, processes), scale_rounds(results, other, processes),
                strict=False)
    return median(a["walk"].ops_per_s / b["walk"].ops_per_s for a, b in pairs
                  if b["walk"].ops_per_s > 0)


def evaluate_targets(results: Results) -> None:
    """The issue's targets for ours in WAL, as PASS/MISS lines (never enforced)."""
    def target(name: str, value: float, ok: bool, detail: str) -> None:
        status = "PASS" if ok and math.isfinite(value) else "MISS"
        results.targets.append({"target": name, "status": status, "value": value,
                                "detail": detail})

    for op, factor in (("transition", 10), ("get_status", 20), ("register_batch", 5)):
        ratio = paired_ratio(results, "ours-wal", "builtin", op)
        target(f"{op}: ours-wal >= {factor}x built-in", ratio, ratio >= factor,
               f"{_x(ratio)} ({_n(suite_median(results, 'ours-wal', op))} vs "
               f"{_n(suite_median(results, 'builtin', op))} /s)")
    ratio = paired_ratio(results, "ours-wal", "bare-wal", "transition")
    target("transition: ours-wal >= 60% of bare sqlite3", ratio, ratio >= 0.6,
           f"{ratio:.0%} ({_n(suite_median(results, 'ours-wal', 'transition'))} vs "
           f"{_n(suite_median(results, 'bare-wal', 'transition'))} /s)")
    for op in ("cc_args", "cc_task", "cc_task_registered", "get_blocking"):
        ratio, label = growth_ratio(results, "ours-wal", op)
        target(f"{op}: p50 at {label} stored within 2x", ratio, ratio <= 2.0,
               f"{_x(ratio)} p50 growth")
    one = scale_median(results, "ours-wal", 1, "walk")
    for processes in PROCESS_COUNTS[2:]:
        walk = scale_median(results, "ours-wal", processes, "walk")
        target(f"{processes} processes: walk >= 70% of 1 process", walk / one, walk >= 0.7 * one,
               f"{_n(walk)} vs {_n(one)} transitions/s ({walk / one:.0%})")
        ratio = scale_paired_ratio(results, "ours-wal", "builtin", processes)
        target(f"{processes} processes: walk >= 5x built-in", ratio, ratio >= 5,
               f"{_x(ratio)} ({_n(walk)} vs "
               f"{_n(scale_median(results, 'builtin', processes, 'walk'))} /s)")
        rounds = scale_rounds(results, "ours-wal", processes)
        errors = sum(r[p].errors for r in rounds for p in ("walk", "race"))
        doubles = sum(r["race"].double_claims for r in rounds)
        target(f"{processes} processes: zero errors", errors, bool(rounds) and errors == 0,
               f"{errors} errors in {len(rounds)} rounds")
        target(f"{processes} processes: zero double claims", doubles,
               bool(rounds) and doubles == 0, f"{doubles} double claims")


def failures(results: Results) -> list[str]:
    """Reasons for a non-zero exit: errors of ours or of the bare reference, double claims."""
    reasons = []
    for backend, ops in results.suite.items():
        if backend.startswith(("ours-", "bare-")):
            reasons += [f"{backend} {op}: {c}" for op, cells in ops.items()
                        for c in cells if isinstance(c, str)]
    for backend, counts in results.scale.items():
        if not backend.startswith("ours-"):
            continue
        for processes, outcome in counts.items():
            if isinstance(outcome, str):
                reasons.append(f"{backend} x{processes}: {outcome}")
                continue
            for r in outcome:
                bad = r["walk"].errors + r["race"].errors + r["race"].double_claims
                bad += r["race"].unclaimed + r["race"].wrong_owner
                if bad:
                    reasons.append(f"{backend} x{processes}: {bad} errors or double claims")
    return reasons


# -- report -------------------------------------------------------------------------
def _n(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:,.0f}"


def _x(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.2f}x"


def _us(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value * 1e6:,.0f}" if value >= 1e-3 \
        else f"{value * 1e6:.1f}"


def _size(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 else str(size)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _suite_cell(results: Results, backend: str, op: str, render: Callable[[], str]) -> str:
    cells = results.suite.get(backend, {}).get(op)
    if cells is None:
        return "n/a"
    if not any(isinstance(cell, dict) for cell in cells):
        return "error"
    return render()


def render_markdown(results: Results) -> str:
    """The human-readable report."""
    m, s = results.machine, results.settings
    out = ["# pynenc orchestrator benchmark", "",
           f"Machine: {m['cpu_count']} CPUs ({m['cpu']}), Python {m['python']}, "
           f"SQLite {m['sqlite']}, pynenc {m['pynenc']}, pynenc-redis {m['pynenc_redis']}, "
           f"redis-server {m['redis_server']}; {m['platform']}.",
           f"Run: {'quick' if s['quick'] else 'full'}, {s['repetitions']} repetitions, "
           f"{s['elapsed_s']:.0f}s in all. Medians over repetitions; ratios are medians of "
           "ratios taken within each repetition (ours/other, higher is better for ours).", "",
           "## Targets (ours, WAL, synchronous=normal)", ""]
    out += [f"- {t['status']} {t['target']}: {t['detail']}" for t in results.targets] + [""]

    backends = [b for b in results.suite if results.suite[b]]
    ops = list(dict.fromkeys(op for b in backends for op in results.suite[b]))
    if backends:
        out += [f"## Single process: throughput (items/s; suite of {s['suite_n']} invocations, "
                f"{s['suite_n_rollback']} in rollback journal modes)", ""]
        out += _table(["op", *backends], [[op, *(_suite_cell(
            results, b, op, lambda b=b, op=op: _n(suite_median(results, b, op)))
            for b in backends)] for op in ops])
        out += ["## Single process: latency p50 / p99 (µs)", ""]
        out += _table(["op", *backends], [[op, *(_suite_cell(
            results, b, op, lambda b=b, op=op: f"{_us(suite_median(results, b, op, 'p50'))} / "
            f"{_us(suite_median(results, b, op, 'p99'))}") for b in backends)] for op in ops])
        pairs = [("ours-wal", other) for other in ("builtin", "redis", "mem")]
        pairs += [(f"ours-{mode}", f"bare-{mode}") for mode in JOURNAL_MODES]
        pairs = [(a, b) for a, b in pairs if a in results.suite and b in results.suite]
        out += ["## Single process: paired ratios ours/other", ""]
        out += _table(["op", *(f"{a}/{b}" for a, b in pairs)],
                      [[op, *(_x(paired_ratio(results, a, b, op)) for a, b in pairs)]
                       for op in ops])

    if results.growth:
        sizes = sorted({size for ops_ in results.growth.values() for c in ops_.values()
                        for size in c})
        out += ["## Growth: p50 latency (µs) by stored invocations", ""]
        rows = []
        for backend, ops_ in results.growth.items():
            for op, cells in ops_.items():
                ratio, label = growth_ratio(results, backend, op)
                rows.append([backend, op, *(
                    _us(cells[size]["p50"]) if isinstance(cells.get(size), dict)
                    else ("error" if size in cells else "skip") for size in sizes),
                    f"{_x(ratio)} ({label})"])
        out += _table(["backend", "op", *(_size(size) for size in sizes), "growth"], rows)

    if results.scale:
        out += ["## Scale: OS processes on one store (medians over rounds)", "",
                "walk = REGISTERED->PENDING->RUNNING->SUCCESS on own invocations "
                "(transitions/s, all processes); race = every process claims the same "
                "invocations (attempts/s). Errors exclude lost claims.", ""]
        rows = []
        for backend, counts in results.scale.items():
            one = scale_median(results, backend, 1, "walk")
            for processes, outcome in counts.items():
                if isinstance(outcome, str):
                    rows.append([backend, str(processes), "error", *["-"] * 8])
                    continue
                walk = scale_median(results, backend, processes, "walk")
                ratio = scale_paired_ratio(results, backend, "builtin", processes)
                rows.append([
                    backend, str(processes), _n(walk), _phase_latency(outcome, "walk"),
                    f"{walk / one:.0%}" if one > 0 else "-",
                    "-" if backend == "builtin" else _x(ratio),
                    _n(scale_median(results, backend, processes, "race")),
                    _phase_latency(outcome, "race"),
                    str(sum(r["race"].double_claims for r in outcome)),
                    str(sum(r["race"].unclaimed + r["race"].wrong_owner for r in outcome)),
                    str(sum(r[p].errors for r in outcome for p in ("walk", "race")))])
        out += _table(["backend", "procs", "walk /s", "walk p50 / p99 µs", "vs 1 proc",
                       "vs built-in", "race /s", "race p50 / p99 µs", "double claims",
                       "bad owner", "errors"], rows)

    notes = list(results.skipped)
    for backend, ops_ in results.suite.items():
        for op, cells in ops_.items():
            notes += sorted({f"{backend} {op}: {c}" for c in cells if isinstance(c, str)})
    for backend, ops_ in results.growth.items():
        notes += [f"growth {backend} {op} {_size(size)}: {c}" for op, cells in ops_.items()
                  for size, c in cells.items() if isinstance(c, str)]
    for backend, counts in results.scale.items():
        for processes, outcome in counts.items():
            samples = [outcome] if isinstance(outcome, str) else sorted({
                e for r in outcome for p in ("walk", "race") for e in r[p].error_samples})
            notes += [f"scale {backend} x{processes}: {e}" for e in samples]
    if notes:
        out += ["## Errors and skipped cells", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(out)


def _phase_latency(rounds: list[dict[str, PhaseSummary]], phase: str) -> str:
    return (f"{_us(median(r[phase].p50 for r in rounds))} / "
            f"{_us(median(r[phase].p99 for r in rounds))}")


def plot_scale(results: Results, path: Path) -> None:
    """Throughput against process count, one line per backend (walk and race panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, phase, unit in ((axes[0], "walk", "transitions/s"),
                              (axes[1], "race", "claim attempts/s")):
        for backend, counts in results.scale.items():
            points = [(p, scale_median(results, backend, p, phase)) for p in counts]
            points = [(p, v) for p, v in points if math.isfinite(v) and v > 0]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=backend)
        axis.set(xscale="log", yscale="log", xlabel="OS processes", ylabel=unit,
                 title=f"{phase}: total throughput")
        axis.set_xticks(PROCESS_COUNTS, [str(p) for p in PROCESS_COUNTS])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(f"{results.machine['cpu_count']} CPUs, SQLite {results.machine['sqlite']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine_info(redis_version: str) -> dict[str, Any]:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info
                    if line.startswith("model name")), cpu)
    return {"cpu_count": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform(),
            "pynenc": version("pynenc"), "pynenc_redis": version("pynenc-redis"),
            "pynenc_sqlite": version("pynenc-sqlite"), "redis_server": redis_version}


def write_outputs(results: Results, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(results)
    (out / "bench.md").write_text(markdown + "\n", encoding="utf-8")
    payload = asdict(results)
    payload["medians"] = {b: {op: {k: suite_median(results, b, op, k) for k in ("rate", "p50", "p99")}
                              for op in ops} for b, ops in results.suite.items()}
    (out / "bench.json").write_text(json.dumps(payload, indent=1, default=str) + "\n",
                                    encoding="utf-8")
    if results.scale:
        plot_scale(results, out / "bench_scale.png")
    return markdown


def print_markdown(markdown: str) -> None:
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


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes, no 100k growth step, scale only for ours-wal and "
                             "built-in (about 3 minutes instead of 15)")
    parser.add_argument("--out", type=Path, default=Path("results/bench"),
                        help="output directory (default: results/bench)")
    parser.add_argument("--repetitions", type=int, default=0, metavar="N",
                        help="repetitions of the suite and rounds of each scale run "
                             "(default 3, or 2 with --quick)")
    parser.add_argument("--phases", default="suite,growth,scale",
                        help="comma-separated subset of suite,growth,scale")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="parent of the scratch directory (default: the system temp dir)")
    args = parser.parse_args(argv)
    settings = Settings.from_args(args)
    scratch = Path(tempfile.mkdtemp(prefix="pynenc-bench-", dir=args.workdir))
    with redis_server(scratch) as (redis_url, redis_info):
        results = Results(machine_info(redis_info if redis_url else "absent"),
                          {**asdict(settings), "workdir": str(scratch)})
        specs = all_specs()
        if redis_url is None:
            results.skipped.append(f"redis: {redis_info}")
            specs = [spec for spec in specs if spec.family != "redis"]
        env = Environment(scratch, redis_url)
        log(f"scratch directory {scratch}; backends {', '.join(s.name for s in specs)}")
        if "suite" in settings.phases:
            run_suite(specs, env, settings, results)
        if "growth" in settings.phases:
            growth = [s for s in specs if s.name in ("ours-wal", "builtin", "mem", "redis")]
            run_growth(growth, env, settings, results)
        if "scale" in settings.phases:
            scale = [s for s in specs if s.name in settings.scale_specs]
            run_scale_phase(scale, env, settings, results)
    _remove_tree(scratch)
    results.settings["elapsed_s"] = time.monotonic() - _STARTED
    evaluate_targets(results)
    print_markdown(write_outputs(results, args.out))
    reasons = failures(results)
    for reason in reasons:
        print(f"FAILURE: {reason}", file=sys.stderr)
    return 1 if reasons else 0


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

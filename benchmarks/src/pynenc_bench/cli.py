"""Benchmark of pynenc orchestrator backends, side by side in one run.

Backends are given by their descriptions (``--backend ID=module:attr``, the spec the
contract and the scenarios take, found installed or in the current directory); every
phase runs every backend given, labelled by its ID. ``nox -s bench`` gives
pynenc-sqlite in each journal mode, pynenc's built-in SQLite and memory orchestrators
and pynenc-redis. A backend that needs a redis-server gets a private one on 127.0.0.1
(skipped when redis-server is missing). The bare-sqlite3 floor runs in the suite, per
journal mode (``--bare``).

Example: pynenc-bench --quick --backend mine=mypkg.contract:BACKEND

Phases:
  suite   single process, every operation, interleaved backends per repetition; the
          bare-sqlite3 floor too
  growth  look-ups with 1k, 10k and 100k stored invocations (--growth-sizes)
  scale   1, 2, 4 and 8 OS processes on one store (--processes): status walks and a
          claim race; backends with the cross_process capability
  e2e     whole stacks with real runner processes (throughput scenario), tasks/s and
          CPU per task by component (py-spy); backends with the cross_process capability.
          pynenc-sqlite's whole stacks drain once more with ThreadRunner on a store
          holding 100k final invocations (--stored): tasks/s against the empty store's

Writes bench.md, bench.json, bench_scale.png and bench_e2e.png to --out and prints the
Markdown. When pynenc-sqlite is in the run (a description whose orchestrator class
comes from pynenc_sqlite), a targets section states its ratios against the bare loop and
the built-in orchestrator, with PASS/MISS targets that are never enforced. Exit status:
2 for a usage error or a missing dependency (checked before the first phase), 1 when
the benchmark crashes, when pynenc-sqlite (or the bare reference) raises an error,
lets two processes claim the same invocation, or loses a task or runs one twice end to
end; 0 otherwise.
"""

import argparse
import math
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus

from pynenc_bench.backends import (
    JOURNAL_MODES,
    BareSQLite,
    DescribedBackend,
    Handle,
    Subject,
)
from pynenc_bench.dependencies import missing_message
from pynenc_bench.e2e import RUNNERS, STORED_RUNNER, run_e2e
from pynenc_bench.report import failures, print_markdown, write_outputs
from pynenc_bench.results import Cell, Results
from pynenc_bench.scale import PROCESS_COUNTS, WALK, PhaseSummary, run_scale
from pynenc_bench.targets import NOT_STORED, evaluate_targets, probe, whole_stacks
from pynenc_bench.timing import Timing, measure
from pynenc_contract import Service
from pynenc_contract.backend import BackendDescriptionError, version_of
from pynenc_contract.services import (
    ServiceUnavailableError,
    redis_server_version,
    services_started,
)
from pynenc_scenarios.cli import stored_count

RUNNER = "bench-runner"
FINAL = InvocationStatus.get_final_statuses()
REGISTERED = [InvocationStatus.REGISTERED]
QUEUED_OR_RUNNING = [InvocationStatus.PENDING, InvocationStatus.RUNNING]
#: An operation: name, the call, its arguments (one call each), items per call.
Op = tuple[str, Callable[[Any], object], Sequence[Any], int]


@dataclass(frozen=True)
class Settings:
    """Sizes and durations of one run (``--quick`` shrinks them, never the backends)."""

    quick: bool
    repetitions: int
    phases: tuple[str, ...]
    suite_n: int = 500
    suite_cap_s: float = 5.0
    growth_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    growth_calls: int = 200
    growth_cap_s: float = 1.0
    growth_fill_budget_s: float = 150.0
    process_counts: tuple[int, ...] = PROCESS_COUNTS
    scale_seconds: float = 1.5
    e2e_runners: tuple[str, ...] = RUNNERS
    e2e_stored: int = 100_000

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Settings":
        phases = tuple(args.phases.split(","))
        if args.quick:
            settings = cls(
                True,
                args.repetitions or 2,
                phases,
                suite_n=200,
                growth_sizes=(1_000, 10_000),
                growth_calls=100,
                growth_cap_s=0.3,
                growth_fill_budget_s=30.0,
                scale_seconds=0.5,
                e2e_stored=10_000,
            )
        else:
            settings = cls(False, args.repetitions or 3, phases)
        given: dict[str, Any] = {
            "growth_sizes": args.growth_sizes,
            "process_counts": args.processes,
            "e2e_runners": args.e2e_runners,
        }
        settings = replace(settings, **{key: value for key, value in given.items() if value})
        return settings if args.stored is None else replace(settings, e2e_stored=args.stored)


# -- operations -----------------------------------------------------------------
def lookup_ops(
    h: Handle, stored: Sequence[DistributedInvocation[Any, Any]], calls: int, rng: random.Random
) -> Iterator[Op]:
    """Read-only look-ups over ``stored`` (used by the suite and the growth phase)."""
    o, task = h.orchestrator, h.task
    ids = [inv.invocation_id for inv in stored]
    few = max(10, calls // 10)
    yield ("get_status", o.get_invocation_status, rng.choices(ids, k=calls), 1)
    yield (
        "filter_by_status",
        lambda batch: o.filter_by_status(batch, FINAL),
        [rng.sample(ids, min(50, len(ids))) for _ in range(few)],
        1,
    )
    yield (
        "cc_args",
        lambda inv: next(
            o.get_existing_invocations(task, inv.call.serialized_arguments, REGISTERED), None
        ),
        rng.choices(stored, k=calls),
        1,
    )
    yield (
        "cc_task",
        lambda _: next(o.get_existing_invocations(task, None, QUEUED_OR_RUNNING), None),
        range(few),
        1,
    )
    yield (
        "cc_task_registered",
        lambda _: next(o.get_existing_invocations(task, None, REGISTERED), None),
        range(few),
        1,
    )
    yield ("get_blocking", lambda _: list(o.get_blocking_invocations(10)), range(few), 1)
    yield ("count", lambda _: o.count_invocations(), range(few), 1)
    yield (
        "paginate_deep",
        lambda _: o.get_invocation_ids_paginated(limit=50, offset=max(0, len(ids) - 50)),
        range(few),
        1,
    )


def suite_ops(h: Handle, n: int, rng: random.Random) -> Iterator[Op]:
    """Every operation once over ``n`` + ``n`` fresh invocations, in dependency order."""
    o = h.orchestrator
    one, batch = h.invocations(n), h.invocations(n)
    half, few = n // 2, max(10, n // 10)
    yield ("register_one", lambda inv: o._register_new_invocations([inv], RUNNER), one, 1)
    yield (
        "register_batch",
        lambda chunk: o._register_new_invocations(chunk, RUNNER),
        [batch[i : i + 100] for i in range(0, n, 100)],
        100,
    )
    yield (
        "transition",
        lambda step: o._atomic_status_transition(step[0], step[1], RUNNER),
        [(inv.invocation_id, status) for inv in batch for status in WALK],
        1,
    )
    # Lambdas defer the attribute look-up: the bare reference lacks most methods.
    yield (
        "index_args",
        lambda inv: o.index_arguments_for_concurrency_control(inv),  # noqa: PLW0108
        one + batch,
        1,
    )
    yield (
        "waiting_for_results",
        lambda pair: o.waiting_for_results(pair[0], [pair[1]]),
        [(one[i].invocation_id, one[half + i].invocation_id) for i in range(half)],
        1,
    )
    yield from lookup_ops(h, one + batch, n, rng)
    yield (
        "release_waiters",
        lambda i: o.release_waiters(i),  # noqa: PLW0108
        [inv.invocation_id for inv in one[half:]],
        1,
    )
    yield (
        "heartbeat",
        lambda i: o.register_runner_heartbeats([f"runner-{i % 20}"], consumed_queues=["default"]),
        range(2 * few),
        1,
    )
    yield ("active_runners", lambda _: o.get_active_runners(), range(few), 1)


def run_op(subject: Subject, op: Op, cap_s: float) -> Cell | None:
    """Measure one operation; ``None`` when the backend does not offer it."""
    name, call, args, items = op
    if subject.ops is not None and name not in subject.ops:
        return None
    try:
        timing = measure(call, args, items_per_call=items, max_seconds=cap_s)
    except Exception as error:  # a finding about that backend, recorded per cell
        return f"{type(error).__name__}: {error}"[:300]
    return _cell(timing)


def _cell(timing: Timing) -> dict[str, float]:
    return {
        "rate": timing.rate,
        "p50": timing.percentile(0.50),
        "p99": timing.percentile(0.99),
        "calls": timing.calls,
    }


# -- phases -----------------------------------------------------------------------
def run_suite(subjects: list[Subject], workdir: Path, settings: Settings, results: Results) -> None:
    """Single process: every backend per repetition, in a rotated order."""
    rng = random.Random(1)
    for rep in range(-1, settings.repetitions):  # -1: warm-up, not recorded
        shift = rep % len(subjects)
        for subject in subjects[shift:] + subjects[:shift]:
            log(f"suite {'warm-up' if rep < 0 else f'rep {rep + 1}'}: {subject.label}")
            app_id = f"suite-{subject.label}-{rep + 1}-{uuid.uuid4().hex[:6]}"
            handle = subject.open(workdir, app_id)
            try:
                for op in suite_ops(handle, settings.suite_n if rep >= 0 else 100, rng):
                    cell = run_op(subject, op, settings.suite_cap_s)
                    if cell is not None and rep >= 0:
                        by_op = results.suite.setdefault(subject.label, {})
                        by_op.setdefault(op[0], []).append(cell)
            finally:
                handle.close()


def run_growth(
    subjects: list[Subject], workdir: Path, settings: Settings, results: Results
) -> None:
    """The look-ups (and a claim) at growing store sizes; skips sizes past the fill budget."""
    rng = random.Random(2)
    for subject in subjects:
        handle = subject.open(workdir, f"growth-{subject.label}-{uuid.uuid4().hex[:6]}")
        stored: list[DistributedInvocation[Any, Any]] = []
        claimable: list[str] = []
        fill_rate = math.inf
        cells = results.growth.setdefault(subject.label, {})
        try:
            for size in settings.growth_sizes:
                needed = size - len(stored)
                if needed / fill_rate > settings.growth_fill_budget_s:
                    results.skipped.append(
                        f"growth {subject.label} at {size:,}: filling would take about "
                        f"{needed / fill_rate:.0f}s (> {settings.growth_fill_budget_s:.0f}s budget)"
                    )
                    break
                log(f"growth {subject.label}: filling to {size:,}")
                fill_rate = _fill(handle, stored, claimable, needed)
                for op in lookup_ops(handle, stored, settings.growth_calls, rng):
                    _store_growth(cells, op[0], size, run_op(subject, op, settings.growth_cap_s))
                claims = [
                    claimable.pop() for _ in range(min(settings.growth_calls, len(claimable)))
                ]
                claim = (
                    "transition",
                    partial(
                        handle.orchestrator._atomic_status_transition,
                        status=InvocationStatus.PENDING,
                        runner_id=RUNNER,
                    ),
                    claims,
                    1,
                )
                cell = run_op(subject, claim, settings.growth_cap_s)
                _store_growth(cells, "transition", size, cell)
        finally:
            handle.close()


def _fill(
    handle: Handle, stored: list[DistributedInvocation[Any, Any]], claimable: list[str], count: int
) -> float:
    """Register and index ``count`` invocations and walk every other one to SUCCESS.

    Returns invocations filled per second. In the first fill, 50 finished
    invocations wait on 50 REGISTERED ones (the edges stay fixed as the store grows).
    """
    started = time.perf_counter()
    orchestrator = handle.orchestrator
    new = handle.invocations(count)
    for first in range(0, count, 1000):
        orchestrator._register_new_invocations(new[first : first + 1000], RUNNER)
    for invocation in new:
        orchestrator.index_arguments_for_concurrency_control(invocation)
    waited = [] if stored else new[:50]
    finished, registered = new[len(waited) :: 2], new[len(waited) + 1 :: 2]
    for invocation in finished:
        for status in WALK:
            orchestrator._atomic_status_transition(invocation.invocation_id, status, RUNNER)
    for waiter, blocker in zip(finished, waited, strict=False):
        orchestrator.waiting_for_results(waiter.invocation_id, [blocker.invocation_id])
    claimable.extend(inv.invocation_id for inv in registered)
    random.Random(count).shuffle(claimable)
    stored.extend(new)
    return count / (time.perf_counter() - started)


def _store_growth(
    cells: dict[str, dict[int, Cell]], name: str, size: int, cell: Cell | None
) -> None:
    if cell is not None:
        cells.setdefault(name, {})[size] = cell


def run_scale_phase(
    subjects: list[Subject], workdir: Path, settings: Settings, results: Results
) -> None:
    """Process counts outermost, so that backends at one count run back to back."""
    for processes in settings.process_counts:
        for subject in subjects:
            rate = results.suite_median(subject.label, "transition")
            rate = rate if math.isfinite(rate) else 5000.0
            work = rate * settings.scale_seconds * 1.5
            walk_pool = int(min(max(work / 3, 30 * processes), 60_000))
            race_pool = int(min(max(work / processes, 100), 60_000))
            log(f"scale {subject.label}: {processes} processes")
            try:
                outcome: list[dict[str, PhaseSummary]] | str = run_scale(
                    subject,
                    workdir,
                    processes=processes,
                    rounds=settings.repetitions,
                    seconds=settings.scale_seconds,
                    walk_pool=walk_pool,
                    race_pool=race_pool,
                )
            except Exception as error:
                outcome = f"{type(error).__name__}: {error}"[:2000]
            results.scale.setdefault(subject.label, {})[processes] = outcome


# -- run -------------------------------------------------------------------------
def machine_info(redis_version: str) -> dict[str, Any]:
    """The machine and the versions a report names."""
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu
        )
    return {
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "pynenc": version_of("pynenc"),
        "pynenc_redis": version_of("pynenc-redis"),
        "pynenc_sqlite": version_of("pynenc-sqlite"),
        "redis_server": redis_version,
    }


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def run(settings: Settings, subjects: list[Subject], scratch: Path) -> Results:
    """Every selected phase, with the servers the backends need started on loopback
    (unless the environment names running ones); a backend whose server cannot start is
    left out, with the reason."""
    needs_redis = any(
        Service.REDIS in s.description().services
        for s in subjects
        if isinstance(s, DescribedBackend)
    )
    with ExitStack() as stack:
        skipped, kept = [], []
        for subject in subjects:
            if isinstance(subject, DescribedBackend):
                try:  # the environment names the servers for the scale phase's workers too
                    stack.enter_context(services_started(subject.description(), scratch))
                except ServiceUnavailableError as error:
                    skipped.append(f"{subject.label}: {error}")
                    continue
            kept.append(subject)
        subjects = kept
        redis_version = redis_server_version() if needs_redis else "not needed"
        results = Results(
            machine_info(redis_version), {**asdict(settings), "workdir": str(scratch)}, skipped
        )
        log(f"scratch directory {scratch}; backends {', '.join(s.label for s in subjects)}")
        described = [s for s in subjects if isinstance(s, DescribedBackend)]
        results.backends = {backend.label: backend.info() for backend in described}
        results.floors = [s.label for s in subjects if isinstance(s, BareSQLite)]
        for backend in described:
            if (ours := probe(backend, scratch)) is not None:
                results.ours[backend.label] = ours
        # Several OS processes: the scale phase's workers, the e2e phase's runners.
        shared = [b for b in described if results.backends[b.label].cross_process]
        alone = {
            b.label: "lacks the cross_process capability: its store lives in one process"
            for b in described
            if b not in shared
        }
        if "suite" in settings.phases:
            run_suite(subjects, scratch, settings, results)
        if "growth" in settings.phases:
            run_growth(list(described), scratch, settings, results)
        if "scale" in settings.phases:
            results.left_out["scale"] = alone
            run_scale_phase(list(shared), scratch, settings, results)
        if "e2e" in settings.phases:
            results.left_out["e2e"] = alone
            stacks = [(backend.label, backend.spec) for backend in shared]
            filled = [label for label, _ in stacks if label in whole_stacks(results)]
            if settings.e2e_stored and STORED_RUNNER in settings.e2e_runners:
                results.left_out["e2e-stored"] = {
                    label: NOT_STORED for label, _ in stacks if label not in filled
                }
            results.e2e, results.e2e_stored, results.e2e_profiles = run_e2e(
                stacks,
                scratch,
                settings.quick,
                log,
                settings.e2e_runners,
                stored=settings.e2e_stored,
                stored_stacks=filled,
            )
    return results


def subjects_from_args(args: argparse.Namespace) -> list[Subject]:
    """The described backends in the order given, then the bare-sqlite3 floors."""
    backends = [DescribedBackend.parse(argument) for argument in args.backend]
    for backend in backends:
        backend.description()  # fails here, with a usage error, when the spec is wrong
    bare = [BareSQLite(mode) for mode in args.bare.split(",") if mode]
    subjects: list[Subject] = [*backends, *bare]
    labels = [subject.label for subject in subjects]
    doubled = sorted({label for label in labels if labels.count(label) > 1})
    if doubled:
        raise BackendDescriptionError(
            f"two backends have the ID {', '.join(map(repr, doubled))}: give each its own "
            "(--backend ID=module:attr; bare-<mode> names the bare-sqlite3 floors)"
        )
    return subjects


def _counts(text: str) -> tuple[int, ...]:
    """``1,2,4`` -> (1, 2, 4): positive, ascending."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1 or list(counts) != sorted(set(counts)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected ascending positive integers, 1,2,4")
    return counts


def _runner_types(text: str) -> tuple[str, ...]:
    runners = tuple(text.split(","))
    unknown = [runner for runner in runners if runner not in RUNNERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"{unknown}: choose from {', '.join(RUNNERS)}")
    return runners


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pynenc-bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backend",
        action="append",
        required=True,
        metavar="[ID=]MODULE:ATTR",
        help="a backend description, the spec the contract and the scenarios take; repeat "
        "it (`nox -s bench` gives the comparison set). Every phase runs every backend given",
    )
    parser.add_argument(
        "--bare",
        default=",".join(JOURNAL_MODES),
        metavar="MODES",
        help="journal modes of the bare-sqlite3 floor, comma-separated ('' for none; "
        "default: all five)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes and shorter runs, no 100k growth step; every backend still "
        "runs every phase",
    )
    parser.add_argument(
        "--growth-sizes",
        type=_counts,
        metavar="N,N",
        help="stored invocations of the growth steps (default 1000,10000,100000; "
        "1000,10000 with --quick)",
    )
    parser.add_argument(
        "--processes",
        type=_counts,
        metavar="N,N",
        help=f"OS processes of the scale phase (default {','.join(map(str, PROCESS_COUNTS))})",
    )
    parser.add_argument(
        "--e2e-runners",
        type=_runner_types,
        metavar="TYPE,TYPE",
        help=f"runner types of the e2e phase (default {','.join(RUNNERS)}); "
        "ThreadRunner and PersistentProcessRunner are also profiled",
    )
    parser.add_argument(
        "--stored",
        type=stored_count,
        metavar="N",
        help=f"final invocations stored for the e2e phase's second {STORED_RUNNER} run on "
        "pynenc-sqlite's whole stacks (default 100000; 10000 with --quick; 0: no such run)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/bench"),
        help="output directory (default: results/bench)",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=0,
        metavar="N",
        help="repetitions of the suite and rounds of each scale run (default 3, or 2 with --quick)",
    )
    parser.add_argument(
        "--phases",
        default="suite,growth,scale,e2e",
        help="comma-separated subset of suite,growth,scale,e2e",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="parent of the scratch directory (default: the system temp dir)",
    )
    args = parser.parse_args(argv)
    phases = ("suite", "growth", "scale", "e2e")
    if unknown := set(args.phases.split(",")) - set(phases):
        parser.error(f"--phases: {', '.join(sorted(unknown))}: choose from {','.join(phases)}")
    if args.repetitions < 0:
        parser.error(f"--repetitions {args.repetitions}: give 1 or more (0: the default)")
    bad_modes = set(args.bare.split(",")) - {"", *JOURNAL_MODES}
    if bad_modes:
        parser.error(f"--bare {args.bare!r}: choose from {', '.join(JOURNAL_MODES)}")
    missing = missing_message(args.phases.split(","), terminal=sys.stdout.isatty())
    if missing:
        print(missing, file=sys.stderr)
        return 2
    try:
        subjects = subjects_from_args(args)
    except BackendDescriptionError as error:
        parser.error(f"--backend: {error}")
    settings = Settings.from_args(args)
    scratch = Path(tempfile.mkdtemp(prefix="pynenc-bench-", dir=args.workdir))
    try:
        results = run(settings, subjects, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results.settings["elapsed_s"] = time.monotonic() - _STARTED
    evaluate_targets(results)
    print_markdown(write_outputs(results, args.out))
    reasons = failures(results)
    for reason in reasons:
        print(f"FAILURE: {reason}", file=sys.stderr)
    return 1 if reasons else 0


def entry_point() -> NoReturn:
    """Console script ``pynenc-bench``."""
    sys.exit(main())

"""The targets: pynenc-sqlite (ours) against the bare sqlite3 loop and pynenc's built-in
SQLite orchestrator.

This is the one module of the benchmark that knows pynenc-sqlite. A described backend
is ours when its orchestrator class comes from the ``pynenc_sqlite`` package, whatever
its label; the report has a targets section only when one is in the run. The ratios
are reported; the targets print PASS or MISS and are never enforced.
"""

import math
from collections.abc import Iterator
from pathlib import Path

from pynenc_bench.backends import DescribedBackend
from pynenc_bench.e2e import (
    PROFILED_RUNNERS,
    breakdown_of,
    failed_cases,
    stored_ratio,
    tasks_per_s,
)
from pynenc_bench.results import Ours, Results, size_label
from pynenc_contract import BackendDescription
from pynenc_scenarios.suite.throughput import RUNNER_COUNTS

PACKAGE = "pynenc_sqlite"
#: The operations the bare loop offers too: ours against it and against the built-in.
BARE_OPS = ("register_one", "register_batch", "transition", "get_status")
#: Share of the bare loop's transitions/s (same journal mode) that ours should reach.
BARE_SHARE = 0.6
#: Ratios to the built-in orchestrator, judged only where the bare loop in the same
#: journal mode reaches them in the run (elsewhere they are out of reach by design).
VS_BUILTIN = {"get_status": 20.0}
#: Look-ups whose p50 should stay within MAX_GROWTH as the store grows.
FLAT_LOOKUPS = ("cc_args", "cc_task", "cc_task_registered", "get_blocking")
MAX_GROWTH = 2.0
#: Walk throughput at SCALE_FROM processes or more, as a share of one process's.
SCALE_SHARE, SCALE_FROM = 0.7, 4
#: End to end, whole stacks of ours against the built-in one at the most runners.
E2E_FACTOR, E2E_RUNNERS = 2.5, max(RUNNER_COUNTS)
#: Share of the runner samples a whole stack of ours may spend opening connections.
MAX_SETUP_SHARE = 0.05
#: End to end, a whole stack of ours with final invocations stored: share of its tasks/s
#: on the empty store (same run, runner type and counts) it should keep at every count.
STORED_SHARE = 0.9
#: Why a stack has no stored comparison (only the stacks its target is about run it).
NOT_STORED = (
    "not pynenc-sqlite's whole stack, which the target is about; filling through pynenc's "
    "SQLite components or redis runs at 50 to 100 invocations/s"
)


def whole_stacks(results: Results) -> list[str]:
    """Labels of the backends of ours whose every component is pynenc-sqlite's."""
    return [label for label, ours in results.ours.items() if ours.whole_stack]


def is_ours(description: BackendDescription) -> bool:
    """Whether the description's orchestrator class comes from pynenc-sqlite."""
    return description.orchestrator_class.__module__.partition(".")[0] == PACKAGE


def probe(backend: DescribedBackend, workdir: Path) -> Ours | None:
    """What the targets need to know about ``backend`` (``None`` when it is not ours),
    read from an app built in ``workdir``."""
    if not is_ours(backend.description()):
        return None
    handle = backend.open(workdir, f"probe-{backend.label}")
    try:
        app = handle.app
        parts = (app.broker, app.state_backend, app.trigger, app.client_data_store)
        whole_stack = all(type(part).__module__.partition(".")[0] == PACKAGE for part in parts)
        try:
            mode = handle.orchestrator.database.settings.journal_mode
        except AttributeError:  # a pynenc-sqlite that keeps its settings elsewhere
            mode = None
        journal_mode = None if mode is None else str(getattr(mode, "value", mode))
    finally:
        handle.close()
    return Ours(journal_mode, whole_stack)


def evaluate_targets(results: Results) -> None:
    """Fill ``results.target_ratios`` and ``results.targets`` for each backend of ours."""
    for label in results.ours:
        results.target_ratios += _suite_ratios(results, label)
        results.target_ratios += _e2e_ratios(results, label)
        for name, value, met, detail in (
            *_suite_targets(results, label),
            *_growth_targets(results, label),
            *_scale_targets(results, label),
            *_e2e_targets(results, label),
        ):
            status = "PASS" if met and math.isfinite(value) else "MISS"
            results.targets.append(
                {
                    "backend": label,
                    "target": name,
                    "status": status,
                    "value": value,
                    "detail": detail,
                }
            )


Target = tuple[str, float, bool, str]


def _suite_ratios(r: Results, label: str) -> list[dict[str, object]]:
    if label not in r.suite:
        return []
    builtin, floor = r.builtin, r.floor_of(label)
    return [
        {
            "phase": "suite",
            "backend": label,
            "op": op,
            "rate": r.suite_median(label, op),
            "builtin": builtin,
            "floor": floor,
            "vs_builtin": r.paired_ratio(label, builtin, op),
            "floor_vs_builtin": r.paired_ratio(floor, builtin, op),
            "vs_floor": r.paired_ratio(label, floor, op),
        }
        for op in BARE_OPS
    ]


def _suite_targets(r: Results, label: str) -> Iterator[Target]:
    builtin, floor = r.builtin, r.floor_of(label)
    if label not in r.suite or floor is None:
        return
    ratio = r.paired_ratio(label, floor, "transition")
    yield (
        f"transition >= {BARE_SHARE:.0%} of bare sqlite3 (same journal mode)",
        ratio,
        ratio >= BARE_SHARE,
        f"{_pct(ratio)} of {floor}",
    )
    for op, factor in VS_BUILTIN.items():
        ceiling = r.paired_ratio(floor, builtin, op)
        if ceiling >= factor:  # False for NaN: no built-in or no bare loop in the run
            ratio = r.paired_ratio(label, builtin, op)
            yield (
                f"{op} >= {factor:g}x built-in (where bare sqlite3 reaches it)",
                ratio,
                ratio >= factor,
                f"{_x(ratio)} ({floor} {_x(ceiling)})",
            )


def _growth_targets(r: Results, label: str) -> Iterator[Target]:
    if label not in r.growth:
        return
    for op in FLAT_LOOKUPS:
        ratio, sizes = r.growth_ratio(label, op)
        yield (
            f"{op}: p50 within {MAX_GROWTH:g}x as the store grows",
            ratio,
            ratio <= MAX_GROWTH,
            f"{_x(ratio)} ({sizes})",
        )


def _scale_targets(r: Results, label: str) -> Iterator[Target]:
    counts = sorted(r.scale.get(label, {}))
    single = r.scale_median(label, 1, "walk")
    for processes in counts:
        walk = r.scale_median(label, processes, "walk")
        procs = f"{processes} process{'es' if processes > 1 else ''}"
        rounds = r.rounds(label, processes)
        if processes >= SCALE_FROM:
            yield (
                f"{procs}: walk >= {SCALE_SHARE:.0%} of 1 process",
                walk / single,
                walk >= SCALE_SHARE * single,
                f"{_pct(walk / single)} ({walk:,.0f}/s)" if rounds else "no round finished",
            )
        errors = sum(rnd[phase].errors for rnd in rounds for phase in ("walk", "race"))
        bad = sum(
            rnd["race"].double_claims + rnd["race"].unclaimed + rnd["race"].wrong_owner
            for rnd in rounds
        )
        attempts = sum(rnd["race"].attempts for rnd in rounds)
        yield (
            f"{procs}: zero errors, double claims and wrong owners",
            errors + bad,
            bool(rounds) and errors == bad == 0,
            f"{errors} + {bad} in {attempts:,} claims" if rounds else "no round finished",
        )


def _e2e_ratios(r: Results, label: str) -> list[dict[str, object]]:
    builtin = r.builtin
    rows: list[dict[str, object]] = []
    for runner in r.e2e.get(label, {}):
        ours = tasks_per_s(r.e2e, label, runner, E2E_RUNNERS)
        other = tasks_per_s(r.e2e, builtin, runner, E2E_RUNNERS) if builtin else math.nan
        rows.append(
            {
                "phase": "e2e",
                "backend": label,
                "runner": runner,
                "runners": E2E_RUNNERS,
                "tasks_per_s": ours,
                "builtin": builtin,
                "builtin_tasks_per_s": other,
                "vs_builtin": ours / other if other > 0 else math.nan,
            }
        )
    return rows


def _e2e_targets(r: Results, label: str) -> Iterator[Target]:
    runners = r.e2e.get(label)
    if not runners:
        return
    builtin = r.builtin
    if r.ours[label].whole_stack:
        for runner in (runner for runner in PROFILED_RUNNERS if runner in runners):
            if builtin in r.e2e:
                ours = tasks_per_s(r.e2e, label, runner, E2E_RUNNERS)
                other = tasks_per_s(r.e2e, builtin, runner, E2E_RUNNERS)
                ratio = ours / other if other > 0 else math.nan
                yield (
                    f"{runner} x{E2E_RUNNERS}: whole stack >= {E2E_FACTOR:g}x built-in tasks/s",
                    ratio,
                    ratio >= E2E_FACTOR,
                    f"{_x(ratio)} ({ours:.0f} vs {other:.0f})",
                )
        for runner, profile in r.e2e_profiles.get(label, {}).items():
            share = breakdown_of(profile).setup_share()
            yield (
                f"{runner}: connection set-up < {MAX_SETUP_SHARE:.0%} of the samples (whole stack)",
                share,
                share < MAX_SETUP_SHARE,
                f"{share:.1%} of {profile['samples']:,}",
            )
        yield from _stored_targets(r, label)
    failed = [
        f"{runner} {case}{kind}"
        for by_runner, kind in ((runners, ""), (r.e2e_stored.get(label, {}), " (stored)"))
        for runner, cells in by_runner.items()
        for case in failed_cases(cells)
    ]
    yield (
        "end to end: no task lost, none ran twice",
        len(failed),
        not failed,
        "; ".join(failed) or "every case passed",
    )


def _stored_targets(r: Results, label: str) -> Iterator[Target]:
    stored = size_label(r.settings["e2e_stored"])
    for runner in r.e2e_stored.get(label, {}):
        ratios = {n: stored_ratio(r.e2e_stored, label, runner, n) for n in RUNNER_COUNTS}
        lowest = min(ratios.values()) if all(map(math.isfinite, ratios.values())) else math.nan
        yield (
            f"{runner}, {stored} final invocations stored: tasks/s >= {STORED_SHARE:g}x "
            "the empty store's at every runner count (whole stack)",
            lowest,
            lowest >= STORED_SHARE,
            ", ".join(f"x{n} {_x(ratio)}" for n, ratio in ratios.items()),
        )


def _x(value: float) -> str:
    return f"{value:.2f}x" if math.isfinite(value) else "-"


def _pct(value: float) -> str:
    return f"{value:.0%}" if math.isfinite(value) else "-"

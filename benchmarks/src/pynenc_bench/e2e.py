"""End-to-end phase: whole stacks drain tasks with real runner processes.

A stack is a backend description (the spec the contract and the scenarios take).
For each runner type, the stacks take turns running the throughput scenario
(the scenario ``throughput``: 1000 ``noop`` tasks, 300 with ``--quick``, drained
by 1, 2 and 4 runners), so that they share the machine's conditions. Right after its
empty run, a stack chosen for the stored comparison runs it again with
:data:`STORED_RUNNER` and final invocations already stored (the scenario's
``--stored``). A second run per stack and profiled runner type samples the runners
with py-spy (the scenarios' ``--profile``): ``bench_profile`` turns the stacks into
CPU per task by component.
"""

import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from pynenc_bench.profile import COMPONENTS, OTHER, STARTUP, Breakdown, read_raw
from pynenc_scenarios.profiling import SAMPLE_RATE_HZ
from pynenc_scenarios.suite.throughput import RUNNER_COUNTS
from pynenc_scenarios.suite_run import run_script

RUNNERS = ("ThreadRunner", "MultiThreadRunner", "PersistentProcessRunner")
PROFILED_RUNNERS = ("ThreadRunner", "PersistentProcessRunner")
#: The runner type that also drains the stores filled with final invocations.
STORED_RUNNER = "ThreadRunner"
#: tasks_per_s, tasks, stored, fill_s, empty_tasks_per_s, stored_ratio, outcome and
#: failed checks of one case, or why it has none.
E2ECell = dict[str, Any] | str
#: e2e[stack][runner type][runners]
E2E = dict[str, dict[str, dict[int, E2ECell]]]
#: profiles[stack][runner type]: tasks, sample rate and the breakdown's counts.
Profiles = dict[str, dict[str, dict[str, Any]]]
Log = Callable[[str], None]


def run_e2e(
    stacks: Sequence[tuple[str, str]],
    workdir: Path,
    quick: bool,
    log: Log,
    runners: Sequence[str] = RUNNERS,
    *,
    stored: int = 0,
    stored_stacks: Collection[str] = (),
) -> tuple[E2E, E2E, Profiles]:
    """Timed runs of every (label, spec) stack with each of ``runners``, each run of
    ``stored_stacks`` with :data:`STORED_RUNNER` followed by one with ``stored`` final
    invocations stored, then the profiled runs (of those among :data:`PROFILED_RUNNERS`).

    Returns the empty runs, the stored runs and the profiles.
    """
    e2e: E2E = {}
    filled: E2E = {}
    profiles: Profiles = {}
    for runner in runners:
        for label, spec in stacks:
            log(f"e2e {label} {runner}")
            out = workdir / "e2e" / label / runner
            e2e.setdefault(label, {})[runner] = _throughput(spec, runner, out, quick)
            if stored and runner == STORED_RUNNER and label in stored_stacks:
                log(f"e2e {label} {runner}, {stored:,} final invocations stored")
                out = workdir / "e2e-stored" / label / runner
                filled.setdefault(label, {})[runner] = _throughput(
                    spec, runner, out, quick, stored=stored
                )
    for runner in (runner for runner in PROFILED_RUNNERS if runner in runners):
        for label, spec in stacks:
            log(f"e2e {label} {runner}, sampled with py-spy")
            out = workdir / "e2e-profile" / label / runner
            samples = out / "samples"
            cells = _throughput(spec, runner, out, quick, options=("--profile", str(samples)))
            breakdown = read_raw(sorted(samples.glob("*/*.txt")))
            tasks = sum(cell["tasks"] for cell in cells.values() if isinstance(cell, dict))
            profiles.setdefault(label, {})[runner] = {
                "tasks": tasks,
                "rate_hz": SAMPLE_RATE_HZ,
                "failed": failed_cases(cells),
                **breakdown.to_json(),
            }
    return e2e, filled, profiles


def _throughput(
    spec: str,
    runner: str,
    out: Path,
    quick: bool,
    *,
    options: Sequence[str] = (),
    stored: int = 0,
) -> dict[int, E2ECell]:
    """One throughput run (every runner count) of one runner type on one stack."""
    status, _ = run_script("throughput", quick, spec, out, [runner], stored=stored, options=options)
    path = out / "throughput" / "throughput.json"
    if not path.exists():
        return dict.fromkeys(
            RUNNER_COUNTS, f"pynenc-scenarios scenario throughput exited {status} without results"
        )
    cells: dict[int, E2ECell] = {}
    for case in json.loads(path.read_text(encoding="utf-8"))["cases"]:
        count = int(case["params"]["runners"])
        if case["error"]:
            cells[count] = f"{case['label']}: {case['error'].strip().splitlines()[-1]}"
            continue
        cells[count] = {
            "tasks_per_s": float(case["metrics"].get("tasks_per_s", 0.0)),
            "tasks": int(case["metrics"].get("tasks", 0)),
            "stored": int(case["metrics"].get("stored", 0)),
            "fill_s": float(case["metrics"].get("fill_s", 0.0)),
            **{
                key: float(case["metrics"][key])
                for key in ("empty_tasks_per_s", "stored_ratio")
                if key in case["metrics"]
            },
            "outcome": case["outcome"],
            "failed": [check["name"] for check in case["checks"] if not check["ok"]],
        }
    return cells


def failed_cases(cells: dict[int, E2ECell]) -> list[str]:
    """The cases of a run that errored or failed a check, with why."""
    return [
        f"x{count}: {cell if isinstance(cell, str) else ', '.join(cell['failed'])}"
        for count, cell in cells.items()
        if isinstance(cell, str) or cell["failed"]
    ]


def runner_types(e2e: E2E) -> list[str]:
    """The runner types that ran, in the order of :data:`RUNNERS`."""
    return [runner for runner in RUNNERS if any(runner in runners for runners in e2e.values())]


def tasks_per_s(e2e: E2E, stack: str, runner: str, count: int) -> float:
    """Tasks per second of one case (NaN when it was not measured or failed)."""
    cell = e2e.get(stack, {}).get(runner, {}).get(count)
    return float(cell["tasks_per_s"]) if isinstance(cell, dict) else math.nan


def stored_ratio(stored: E2E, stack: str, runner: str, count: int) -> float:
    """Tasks per second with final invocations stored over those on the empty store, both
    medians measured in the same case on the same runners (NaN when not measured)."""
    cell = stored.get(stack, {}).get(runner, {}).get(count)
    return float(cell.get("stored_ratio", math.nan)) if isinstance(cell, dict) else math.nan


def breakdown_of(profile: dict[str, Any]) -> Breakdown:
    """The :class:`Breakdown` stored in ``profile``."""
    return Breakdown(
        profile["samples"], Counter(profile["by_component"]), profile["connection_setup"]
    )


def cpu_ms_per_task(profile: dict[str, Any], component: str) -> float:
    """Sampled CPU milliseconds per task spent in ``component``."""
    tasks = profile["tasks"]
    samples = profile["by_component"].get(component, 0)
    return 1000 * samples / profile["rate_hz"] / tasks if tasks else math.nan


# -- report ----------------------------------------------------------------------
def render_e2e(e2e: E2E, profiles: Profiles, notes: Sequence[str] = ()) -> list[str]:
    """The Markdown section: tasks/s per stack, then CPU per task by component.

    ``notes`` (such as the backends left out) follow the heading.
    """
    if not e2e and not notes:
        return []
    lines = [
        "## End to end: real runners drain tasks (throughput scenario)",
        "",
        *(line for note in notes for line in (note, "")),
    ]
    if not e2e:
        return lines
    stacks = list(e2e)
    lines += [
        "tasks/s from the first RUNNING to the last SUCCESS; stacks took turns per runner type.",
        "",
        "| runner type | runners | " + " | ".join(stacks) + " |",
        "|---|---|" + "---|" * len(stacks),
    ]
    for runner in runner_types(e2e):
        for count in RUNNER_COUNTS:
            cells = [_tasks_cell(e2e[stack].get(runner, {}).get(count)) for stack in stacks]
            lines.append(f"| {runner} | {count} | " + " | ".join(cells) + " |")
    lines.append("")
    if profiles:
        names = [name for name, _ in COMPONENTS] + [OTHER]
        lines += [
            "CPU per task by component: py-spy samples of the runner processes and their "
            f"workers (non-idle, {SAMPLE_RATE_HZ} Hz) over a second run of every runner "
            "count, in ms per task (share of the samples). Work per task leaves out "
            "start-up (workers still importing); connection set-up is a share of all "
            "samples, counted in the components too.",
            "",
            "| stack | runner type | "
            + " | ".join(names)
            + f" | work per task | {STARTUP} | connection set-up |",
            "|---|---|" + "---|" * (len(names) + 3),
        ]
        failures: list[str] = []
        for stack, runners in profiles.items():
            for runner, profile in runners.items():
                breakdown = breakdown_of(profile)
                cells = [
                    f"{cpu_ms_per_task(profile, name):.2f} ({breakdown.share(name):.0%})"
                    for name in names
                ]
                work = sum(cpu_ms_per_task(profile, name) for name in names)
                lines.append(
                    f"| {stack} | {runner} | "
                    + " | ".join(cells)
                    + f" | {work:.2f} | {breakdown.share(STARTUP):.0%} "
                    f"| {breakdown.setup_share():.0%} |"
                )
                failures += [f"{stack} {runner} {f}" for f in profile.get("failed", [])]
        lines.append("")
        if failures:
            lines += ["Sampled runs that failed a check:", *(f"- {f}" for f in failures), ""]
    return lines


def render_stored(stored: E2E, count: int, notes: Sequence[str] = ()) -> list[str]:
    """The Markdown subsection: tasks/s with ``count`` final invocations stored beside
    those on the empty store; ``notes`` (the stacks left out) follow the heading."""
    if not stored and not notes:
        return []
    lines = [
        f"### With {count:,} final invocations stored",
        "",
        *(line for note in notes for line in (note, "")),
    ]
    if not stored:
        return lines
    lines += [
        "In each case the same runners drain three batches of tasks on the empty store, "
        f"then three more once {count:,} final invocations of another task are stored, each "
        "with its call, status history and result, through pynenc's API ('fill s': how "
        "long that took); tasks/s are the medians of the three, and stored/empty their "
        "ratio. Measured on the same runners minutes apart, the ratio leaves out what a "
        "separate run would add: start-up, and the machine's load changing between runs.",
        "",
        "| stack | runner type | runners | empty tasks/s | stored tasks/s | stored/empty "
        "| fill s |",
        "|---|---|---|---|---|---|---|",
    ]
    for stack, runners in stored.items():
        for runner, cells in runners.items():
            for runners_count in RUNNER_COUNTS:
                cell = cells.get(runners_count)
                ratio = stored_ratio(stored, stack, runner, runners_count)
                fill = f"{cell['fill_s']:.1f}" if isinstance(cell, dict) else "-"
                empty = (
                    f"{cell.get('empty_tasks_per_s', math.nan):.0f}"
                    if isinstance(cell, dict)
                    else "-"
                )
                lines.append(
                    f"| {stack} | {runner} | {runners_count} | {empty} "
                    f"| {_tasks_cell(cell)} "
                    f"| {f'{ratio:.2f}x' if math.isfinite(ratio) else '-'} | {fill} |"
                )
    lines.append("")
    return lines


def _tasks_cell(cell: E2ECell | None) -> str:
    """tasks/s of a case, its outcome when it failed a check; ``error`` or ``-``."""
    if isinstance(cell, dict):
        mark = "" if not cell["failed"] else f" ({cell['outcome']})"
        return f"{cell['tasks_per_s']:.0f}{mark}"
    return "error" if cell else "-"


def plot_e2e(e2e: E2E, path: Path, title: str) -> None:
    """tasks/s against runner processes, one panel per runner type, one line per stack."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runners = runner_types(e2e)
    figure, grid = plt.subplots(
        1, len(runners), figsize=(5 * len(runners), 4.2), sharey=True, squeeze=False
    )
    axes = grid[0]
    for axis, runner in zip(axes, runners, strict=True):
        for stack in e2e:
            points = [(n, tasks_per_s(e2e, stack, runner, n)) for n in RUNNER_COUNTS]
            finite = [(n, v) for n, v in points if math.isfinite(v)]
            if finite:
                axis.plot([n for n, _ in finite], [v for _, v in finite], marker="o", label=stack)
        axis.set(title=runner, xlabel="runner processes", xticks=list(RUNNER_COUNTS))
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel("tasks/s")
    axes[0].legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

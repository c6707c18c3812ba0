"""Run every scenario script, then print and store one combined summary.

Usage: ``python scenarios/run_all.py [--quick] --journal-mode MODE --out DIR``.

Each scenario runs as its own process (own session, with a timeout) writing
``DIR/<run>/<scenario>.json``; besides our orchestrator, the suite runs the
scenarios where pynenc's built-in SQLite orchestrator behaves differently with
``--orchestrator builtin``, and the fan-out scenario with the deliberately broken
claim (``--orchestrator broken-claim``), which must be caught. The exit status is
non-zero when a case fails unexpectedly, an expected failure passes, a case
errors, or a script times out or crashes. ``DIR/summary.json`` and
``DIR/summary.md`` hold the combined results.
"""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCENARIOS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCENARIOS_DIR))

from expectations import all_known_failures  # noqa: E402
from harness import JOURNAL_MODES, LEDGER_ENV, RUNNER_ABBREVIATIONS, install_cleanup  # noqa: E402


@dataclass(frozen=True)
class Run:
    """One invocation of a scenario script."""

    scenario: str
    args: tuple[str, ...] = ()
    label_suffix: str = ""

    @property
    def label(self) -> str:
        """Directory name of this run's results."""
        return self.scenario + self.label_suffix


SUITE = (
    Run("fanout"),
    Run("fanout", ("--orchestrator", "broken-claim", "--runner", "ThreadRunner"), "-broken-claim"),
    Run("crash_recovery"),
    Run("concurrency"),
    Run("concurrency", ("--orchestrator", "builtin", "--runner", "ThreadRunner"), "-builtin"),
    Run("registration"),
    Run("registration", ("--orchestrator", "builtin", "--runner", "ThreadRunner"), "-builtin"),
    Run("atomic_service"),
    Run("atomic_service", ("--orchestrator", "builtin", "--runner", "ThreadRunner"), "-builtin"),
    Run("throughput"),
)
TIMEOUT_SECONDS = {"quick": 300, "full": 1200}
KEY_METRICS = (
    "tasks_per_s",
    "seconds_to_finish",
    "seconds_kill_to_done",
    "running_overlaps",
    "duplicates",
    "resumed_after_s",
    "ran_twice",
    "concurrent_twice",
)


def _end_leftovers(ledger: Path) -> int:
    """SIGKILL process groups noted in ``ledger`` that still run in their work dirs."""
    if not ledger.exists():
        return 0
    ended = 0
    for line in ledger.read_text().splitlines():
        pgid_text, _, workdir = line.partition(" ")
        pgid = int(pgid_text)
        if any(_in_dir(pid, workdir) for pid in _group_members(pgid)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
                ended += 1
    return ended


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    members.append(int(entry.name))
    return members


def _in_dir(pid: int, workdir: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(workdir)
    except OSError:
        return False


def run_script(run: Run, quick: bool, journal_mode: str, out: Path) -> tuple[int, float]:
    """Run one scenario script with a timeout; its exit status (124 on timeout) and time."""
    run_out = out / run.label
    run_out.mkdir(parents=True, exist_ok=True)
    ledger = run_out / "processes.txt"
    ledger.unlink(missing_ok=True)
    (run_out / f"{run.scenario}.json").unlink(missing_ok=True)
    argv = [
        sys.executable,
        str(SCENARIOS_DIR / f"{run.scenario}.py"),
        "--journal-mode",
        journal_mode,
        "--out",
        str(run_out),
        *run.args,
    ]
    if quick:
        argv.append("--quick")
    print(f"\n>>> {' '.join(argv[1:])}", flush=True)
    started = time.time()
    process = subprocess.Popen(
        argv, env={**os.environ, LEDGER_ENV: str(ledger)}, start_new_session=True
    )
    timeout = TIMEOUT_SECONDS["quick" if quick else "full"]
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"!!! {run.label} timed out after {timeout}s", flush=True)
        status = 124
    except KeyboardInterrupt:
        status = 130
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if ended := _end_leftovers(ledger):
            print(f"!!! ended {ended} leftover process group(s) of {run.label}", flush=True)
    if status == 130:
        raise KeyboardInterrupt
    return status, time.time() - started


def _cell(case: dict[str, Any]) -> str:
    metrics = case["metrics"]
    extra = next((f" {key}={metrics[key]}" for key in KEY_METRICS if key in metrics), "")
    return f"{case['outcome'].upper()} {case['seconds']:.1f}s{extra}"


def summarize(
    out: Path, runs: list[dict[str, Any]], quick: bool, journal_mode: str, seconds: float
) -> bool:
    """Print and store the combined summary; whether everything went as expected."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for entry in runs:
        for case in entry.get("cases", []):
            parts = (case["variant"], case["orchestrator"])
            variant = "/".join(p for p in parts if p and p != "ours")
            rows.append(
                (
                    entry["scenario"] + (f" [{variant}]" if variant else ""),
                    RUNNER_ABBREVIATIONS.get(case["runner_type"], case["runner_type"]),
                    case,
                )
            )
    columns = list(RUNNER_ABBREVIATIONS.values())
    lines = [
        f"# Scenarios: {'quick' if quick else 'full'}, journal mode {journal_mode}, {seconds:.0f}s",
        "",
        "| scenario | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name in dict.fromkeys(row[0] for row in rows):
        cells = {col: _cell(case) for row_name, col, case in rows if row_name == name}
        lines.append(f"| {name} | " + " | ".join(cells.get(c, "") for c in columns) + " |")
    problems = [f"{e['label']}: script exit {e['exit']}" for e in runs if e["exit"] not in (0, 1)]
    problems += [f"{e['label']}: no result" for e in runs if not e.get("cases")]
    problems += [
        f"{row[0]} {row[1]}: {row[2]['outcome']}"
        for row in rows
        if row[2]["outcome"] in ("fail", "xpass", "error")
    ]
    seen = {known["key"] for row in rows for known in row[2]["expected_failures"].values()}
    lines += ["", "Known failures met (xfail unless listed under problems):"]
    lines += [
        f"- {k.key} ({k.cause}): {k.title}. Repro: `{k.repro}`"
        for k in all_known_failures()
        if k.key in seen
    ]
    lines += ["", "Problems:" if problems else "No unexpected results."]
    lines += [f"- {p}" for p in problems]
    text = "\n".join(lines)
    print("\n" + text)
    (out / "summary.md").write_text(text + "\n")
    (out / "summary.json").write_text(
        json.dumps(
            {
                "quick": quick,
                "journal_mode": journal_mode,
                "seconds": round(seconds, 1),
                "ok": not problems,
                "problems": problems,
                "runs": runs,
            },
            indent=1,
        )
    )
    return not problems


def main(argv: list[str] | None = None) -> int:
    """Run the suite; 0 when every case passed or failed as expected."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the short (CI) form")
    parser.add_argument("--journal-mode", choices=JOURNAL_MODES, required=True)
    parser.add_argument("--out", type=Path, required=True, help="results directory")
    parser.add_argument(
        "--only", action="append", metavar="SCENARIO", help="run only these scenarios (repeatable)"
    )
    args = parser.parse_args(argv)
    install_cleanup()  # SIGTERM (nox, CI) ends the running scenario as Ctrl-C does
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    runs: list[dict[str, Any]] = []
    for run in SUITE:
        if args.only and run.scenario not in args.only:
            continue
        status, seconds = run_script(run, args.quick, args.journal_mode, args.out)
        result_file = args.out / run.label / f"{run.scenario}.json"
        cases = json.loads(result_file.read_text())["cases"] if result_file.exists() else []
        runs.append(
            {
                "label": run.label,
                "scenario": run.scenario,
                "args": list(run.args),
                "exit": status,
                "seconds": round(seconds, 1),
                "cases": cases,
            }
        )
    ok = summarize(args.out, runs, args.quick, args.journal_mode, time.time() - started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Run every scenario on one backend, then print and store one summary.

Usage: ``python scenarios/run_all.py [--quick] [--backend MODULE:ATTR] --out DIR
[--only SCENARIO ...] [--runner TYPE ...]``.

Each scenario runs as its own process (``scenarios/run.py SCENARIO``, own session,
with a timeout) writing ``DIR/<scenario>/<scenario>.json``. The exit status is
non-zero when a case fails unexpectedly, a known failure passes, a case errors, or
a scenario's process times out or crashes. ``DIR/summary.json`` and
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCENARIOS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCENARIOS_DIR))

from harness.cli import DEFAULT_BACKEND, SUITE, scenario_backend  # noqa: E402
from harness.outcome import runner_table  # noqa: E402
from harness.processes import LEDGER_ENV, install_cleanup  # noqa: E402
from harness.scenario import RUNNER_ABBREVIATIONS  # noqa: E402

TIMEOUT_SECONDS = {"quick": 300, "full": 1200}


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


def run_script(
    scenario: str,
    quick: bool,
    backend: str,
    out: Path,
    runners: Sequence[str],
    *,
    options: Sequence[str] = (),
) -> tuple[int, float]:
    """Run one scenario's process with a timeout; its exit status (124 on timeout) and time.

    ``options`` are further options of ``run.py`` (``--profile DIR``, for example).
    """
    run_out = out / scenario
    run_out.mkdir(parents=True, exist_ok=True)
    ledger = run_out / "processes.txt"
    ledger.unlink(missing_ok=True)
    (run_out / f"{scenario}.json").unlink(missing_ok=True)
    argv = [
        sys.executable,
        str(SCENARIOS_DIR / "run.py"),
        scenario,
        "--backend",
        backend,
        "--out",
        str(run_out),
        *(argument for runner in runners for argument in ("--runner", runner)),
        *options,
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
        print(f"!!! {scenario} timed out after {timeout}s", flush=True)
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
            print(f"!!! ended {ended} leftover process group(s) of {scenario}", flush=True)
    if status == 130:
        raise KeyboardInterrupt
    return status, time.time() - started


def summarize(
    out: Path, runs: list[dict[str, Any]], quick: bool, backend: str, seconds: float
) -> bool:
    """Print and store the combined summary; whether everything went as expected."""
    columns = list(RUNNER_ABBREVIATIONS.values())
    lines = [
        f"# Scenarios on {backend}: {'quick' if quick else 'full'}, {seconds:.0f}s",
        "",
        "| scenario | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name, cells in runner_table(runs).items():
        lines.append(f"| {name} | " + " | ".join(cells.get(c, "") for c in columns) + " |")
    cases = [(run["scenario"], case) for run in runs for case in run.get("cases", [])]
    problems = [
        f"{e['scenario']}: process exit {e['exit']}" for e in runs if e["exit"] not in (0, 1)
    ]
    problems += [f"{e['scenario']}: no result" for e in runs if not e.get("cases")]
    problems += [
        f"{scenario} {case['label']}: {case['outcome']}"
        for scenario, case in cases
        if case["outcome"] in ("fail", "xpass", "error")
    ]
    met = {
        known["defect"]: known for _, case in cases for known in case["expected_failures"].values()
    }
    lines += ["", "Known failures met (xfail unless listed under problems):"]
    lines += [
        f"- {known['defect']}: {known['reason']}"
        + (f" Reproduction: `{known['reproduction']}`" if known["reproduction"] else "")
        for known in met.values()
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
                "backend": backend,
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
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        metavar="MODULE:ATTR",
        help=f"the backend description (default {DEFAULT_BACKEND})",
    )
    parser.add_argument("--out", type=Path, required=True, help="results directory")
    parser.add_argument(
        "--only",
        action="append",
        choices=SUITE,
        metavar="SCENARIO",
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument(
        "--runner",
        action="append",
        default=[],
        choices=list(RUNNER_ABBREVIATIONS),
        help="drive only these runner types (repeatable; default: each scenario's own)",
    )
    args = parser.parse_args(argv)
    backend = scenario_backend(args.backend, parser.error)
    install_cleanup()  # SIGTERM (nox, CI) ends the running scenario as Ctrl-C does
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    runs: list[dict[str, Any]] = []
    for scenario in SUITE:
        if args.only and scenario not in args.only:
            continue
        status, seconds = run_script(scenario, args.quick, args.backend, args.out, args.runner)
        result_file = args.out / scenario / f"{scenario}.json"
        cases = json.loads(result_file.read_text())["cases"] if result_file.exists() else []
        runs.append(
            {
                "scenario": scenario,
                "exit": status,
                "seconds": round(seconds, 1),
                "cases": cases,
            }
        )
    ok = summarize(args.out, runs, args.quick, backend.name, time.time() - started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""``pynenc-scenarios run``: every scenario on one backend, each in its own process, then
one summary.

Each scenario runs as ``python -m pynenc_scenarios scenario NAME`` (own session, with
a timeout) writing ``OUT/<scenario>/<scenario>.json``. The run fails when a case fails
unexpectedly, a known failure passes (its entry is then to be removed), a case
errors, or a scenario's process times out or crashes. ``OUT/summary.json`` and
``OUT/summary.md`` hold the combined results.
"""

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

from pynenc_contract import BackendDescription
from pynenc_scenarios.cases import RUNNER_ABBREVIATIONS
from pynenc_scenarios.keys import unmatched_scenario_keys
from pynenc_scenarios.outcome import runner_table
from pynenc_scenarios.processes import LEDGER_ENV
from pynenc_scenarios.suite import SUITE, load_scenario

TIMEOUT_SECONDS = {"quick": 300, "full": 1200}
#: Further seconds per stored invocation (``--stored``): each of a scenario's cases
#: stores them, at a few hundred per second on a busy machine.
SECONDS_PER_STORED = 0.01


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
    stored: int = 0,
    options: Sequence[str] = (),
) -> tuple[int, float]:
    """Run one scenario's process with a timeout; its exit status (124 on timeout) and time.

    ``stored`` is ``--stored`` (the timeout grows with it); ``options`` are further
    options of ``pynenc-scenarios scenario`` (``--profile DIR``).
    """
    run_out = out / scenario
    run_out.mkdir(parents=True, exist_ok=True)
    ledger = run_out / "processes.txt"
    ledger.unlink(missing_ok=True)
    (run_out / f"{scenario}.json").unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "pynenc_scenarios",
        "scenario",
        scenario,
        "--backend",
        backend,
        "--out",
        str(run_out),
        *(argument for runner in runners for argument in ("--runner", runner)),
        *(("--stored", str(stored)) if stored else ()),
        *options,
    ]
    if quick:
        argv.append("--quick")
    print(f"\n>>> pynenc-scenarios {' '.join(argv[3:])}", flush=True)
    started = time.time()
    process = subprocess.Popen(
        argv, env={**os.environ, LEDGER_ENV: str(ledger)}, start_new_session=True
    )
    timeout = TIMEOUT_SECONDS["quick" if quick else "full"] + stored * SECONDS_PER_STORED
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"!!! {scenario} timed out after {timeout:.0f}s", flush=True)
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
    out: Path, runs: list[dict[str, Any]], quick: bool, backend: BackendDescription, seconds: float
) -> bool:
    """Print and store the combined summary; whether everything went as expected."""
    columns = list(RUNNER_ABBREVIATIONS.values())
    lines = [
        f"# Scenarios on {backend.name}: {'quick' if quick else 'full'}, {seconds:.0f}s",
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
        + (" (a known failure passes now: remove its entry)" if case["outcome"] == "xpass" else "")
        for scenario, case in cases
        if case["outcome"] in ("fail", "xpass", "error")
    ]
    problems += unmatched_scenario_keys(backend, cases)
    met = {
        known["defect"]: known for _, case in cases for known in case["expected_failures"].values()
    }
    if met:
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
                "backend": backend.name,
                "seconds": round(seconds, 1),
                "ok": not problems,
                "problems": problems,
                "runs": runs,
            },
            indent=1,
        )
    )
    return not problems


def run_suite(
    spec: str,
    backend: BackendDescription,
    *,
    out: Path,
    quick: bool,
    only: Sequence[str] | None,
    runners: Sequence[str],
    stored: int,
) -> int:
    """Run the scenarios; 0 when every case passed or failed as expected."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    runs: list[dict[str, Any]] = []
    for scenario in SUITE:
        if only and scenario not in only:
            continue
        if quick and not runners and not load_scenario(scenario).quick_runners:
            continue  # no quick form (the clock jump)
        status, seconds = run_script(scenario, quick, spec, out, runners, stored=stored)
        result_file = out / scenario / f"{scenario}.json"
        cases = json.loads(result_file.read_text())["cases"] if result_file.exists() else []
        runs.append(
            {"scenario": scenario, "exit": status, "seconds": round(seconds, 1), "cases": cases}
        )
    ok = summarize(out, runs, quick, backend, time.time() - started)
    return 0 if ok else 1

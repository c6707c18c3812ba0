"""The command line: ``scenarios/run.py SCENARIO`` runs one scenario in this process and
writes ``<out>/<scenario>.json``; ``scenarios/run_all.py`` runs each in its own."""

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from harness.outcome import PYNENC_VERSION, CaseResult, print_summary, run_case
from harness.processes import cleanup_processes, install_cleanup
from harness.scenario import RUNNER_TYPES, Options, Scenario
from pynenc_contract import BackendDescription, Capability
from pynenc_contract.backend import BackendDescriptionError, load_backend

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The backend the scenarios run on without ``--backend``.
DEFAULT_BACKEND = "pynenc_sqlite.contract:WAL"
#: Every scenario, in the order run_all.py runs them; each is the module of that name.
SUITE = ("fanout", "crash_recovery", "concurrency", "registration", "atomic_service", "throughput")


def load_scenario(name: str) -> Scenario:
    """The ``SCENARIO`` declared by the module ``name``."""
    scenario: Scenario = importlib.import_module(name).SCENARIO
    return scenario


def parse_options(scenario: Scenario, argv: Sequence[str] | None) -> Options:
    """Parse the command line of one scenario.

    Without ``--runner``, every runner type is driven, or only the scenario's
    ``quick_runners`` in the --quick form.
    """
    name = scenario.name
    parser = argparse.ArgumentParser(
        prog=f"scenarios/run.py {name}",
        description=scenario.description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI form)")
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        metavar="MODULE:ATTR",
        help="the backend: a pynenc_contract.BackendDescription, as for the contract "
        f"(default {DEFAULT_BACKEND}); importable from the current directory or PYTHONPATH",
    )
    parser.add_argument(
        "--runner",
        action="append",
        choices=[*RUNNER_TYPES, "all"],
        help="runner type to drive (repeatable; default: all that apply, fewer in --quick "
        "for some scenarios)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "results" / "scenarios" / name,
        help="directory for the JSON result and failing runners' logs",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument("--verbose", action="store_true", help="runner logs at info level")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample runners with py-spy once they are up; raw stacks per case and "
        "runner in DIR (the benchmark's e2e phase reads them)",
    )
    args = parser.parse_args(argv)
    backend = scenario_backend(args.backend, parser.error)
    default = scenario.quick_runners if args.quick else RUNNER_TYPES
    chosen = args.runner or ["all"]
    if "all" in chosen:
        runners = RUNNER_TYPES if args.runner else default
    else:
        runners = tuple(dict.fromkeys(chosen))
    return Options(
        args.quick,
        args.backend,
        backend,
        runners,
        args.out,
        args.keep,
        args.verbose,
        args.profile,
    )


def scenario_backend(spec: str, error: Callable[[str], NoReturn]) -> BackendDescription:
    """Load the description; ``error`` (a usage error) when it cannot run scenarios."""
    sys.path.insert(0, os.getcwd())  # as `python -m` would, for a module beside the caller
    try:
        backend = load_backend(spec)
    except BackendDescriptionError as problem:
        error(f"--backend: {problem}")
    if Capability.CROSS_PROCESS not in backend.capabilities:
        error(
            f"--backend {spec}: {backend.name} lacks the cross_process capability; the "
            "scenarios run runners in several processes on one backend"
        )
    return backend


def run_scenario(scenario: Scenario, argv: Sequence[str] | None = None) -> int:
    """Run one scenario's cases; the exit status is 0 unless a case failed."""
    name = scenario.name
    opts = parse_options(scenario, argv)
    install_cleanup()
    opts.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: list[CaseResult] = []
    try:
        for case in scenario.plan(opts):
            results.append(run_case(scenario, case, opts))
    finally:
        cleanup_processes()
        document = {
            "scenario": name,
            "pynenc_version": PYNENC_VERSION,
            "python": sys.version.split()[0],
            "backend": opts.backend.name,
            "options": {
                "quick": opts.quick,
                "backend": opts.backend_spec,
                "runners": opts.runners,
                "out": str(opts.out),
                "profile": None if opts.profile is None else str(opts.profile),
            },
            "seconds": round(time.time() - started, 2),
            "cases": [r.to_json() for r in results],
        }
        (opts.out / f"{name}.json").write_text(json.dumps(document, indent=1, default=str))
        print_summary(name, results, scenario.headline)
    bad = [r for r in results if r.outcome in ("fail", "xpass", "error")]
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``run.py SCENARIO [options]``: a usage error names the scenarios."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUITE:
        given = repr(args[0]) if args else "none"
        print(
            f"usage: scenarios/run.py SCENARIO [options]: scenario {given} is not one of "
            f"{', '.join(SUITE)} (`scenarios/run.py SCENARIO --help` for its options)",
            file=sys.stderr,
        )
        return 2
    return run_scenario(load_scenario(args[0]), args[1:])

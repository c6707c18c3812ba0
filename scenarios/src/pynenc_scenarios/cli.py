"""``pynenc-scenarios`` (or ``python -m pynenc_scenarios``): real pynenc runner processes
coordinating through a backend, with invariants checked from what they recorded.

  pynenc-scenarios run --backend mypkg.contract:BACKEND --quick
        every scenario (or --only some), each in its own process; a summary
  pynenc-scenarios scenario fanout --backend mypkg.contract:BACKEND
        one scenario in this process (what `run` starts for each)
  pynenc-scenarios matrix results/scenarios
        the backend x scenario x runner-type table of the summaries under a directory

The backend is a ``pynenc_contract.BackendDescription`` (``module:attribute``), found in
the current directory or among the installed packages; ``$PYNENC_CONTRACT_BACKEND``
gives it when ``--backend`` does not. The servers it needs are started on loopback.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from pynenc_contract import BackendDescription, Capability
from pynenc_contract.backend import ENV_BACKEND, BackendDescriptionError, load_backend
from pynenc_contract.services import services_started
from pynenc_scenarios.cases import RUNNER_ABBREVIATIONS, RUNNER_TYPES, Options
from pynenc_scenarios.keys import unknown_scenario_keys
from pynenc_scenarios.matrix import write_matrix
from pynenc_scenarios.outcome import PYNENC_VERSION, CaseResult, print_summary
from pynenc_scenarios.processes import cleanup_processes, install_cleanup
from pynenc_scenarios.scenario import Scenario
from pynenc_scenarios.suite import SUITE, load_scenario
from pynenc_scenarios.suite_run import run_suite

#: Where results go without ``--out`` (relative to the current directory).
DEFAULT_OUT = Path("results") / "scenarios"


def _backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        default=os.environ.get(ENV_BACKEND),
        metavar="MODULE:ATTR",
        help="the backend: a pynenc_contract.BackendDescription, as for the contract "
        f"(default ${ENV_BACKEND}); found in the current directory or installed",
    )


def scenario_backend(spec: str | None, error: Callable[[str], NoReturn]) -> BackendDescription:
    """Load the description; ``error`` (a usage error) when it cannot run scenarios."""
    if not spec:
        error(f"--backend MODULE:ATTR is required (or set ${ENV_BACKEND})")
    try:
        backend = load_backend(spec)
    except BackendDescriptionError as problem:
        error(f"--backend: {problem}")
    if Capability.CROSS_PROCESS not in backend.capabilities:
        error(
            f"--backend {spec}: {backend.name} lacks the cross_process capability; the "
            "scenarios run runners in several processes on one backend"
        )
    if unknown := unknown_scenario_keys(backend):
        error(f"--backend {spec}: {unknown}")
    return backend


def _runner_choices(args: argparse.Namespace, scenario: Scenario) -> tuple[str, ...]:
    """Without ``--runner``, every runner type, or the scenario's quick ones in --quick."""
    chosen = args.runner or ["all"]
    if "all" not in chosen:
        return tuple(dict.fromkeys(chosen))
    return RUNNER_TYPES if args.runner or not args.quick else scenario.quick_runners


def run_scenario(scenario: Scenario, args: argparse.Namespace, backend: BackendDescription) -> int:
    """Run one scenario's cases in this process; 0 unless a case failed."""
    opts = Options(
        args.quick,
        args.backend,
        backend,
        _runner_choices(args, scenario),
        args.out,
        args.keep,
        args.verbose,
        args.profile,
        args.stored,
    )
    install_cleanup()
    opts.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: list[CaseResult] = []
    try:
        with services_started(backend):
            for case in scenario.plan(opts):
                results.append(scenario.run_case(case, opts))
    finally:
        cleanup_processes()
        document = {
            "scenario": scenario.name,
            "pynenc_version": PYNENC_VERSION,
            "python": sys.version.split()[0],
            "backend": backend.name,
            "options": {
                "quick": opts.quick,
                "backend": opts.backend_spec,
                "runners": opts.runners,
                "out": str(opts.out),
                "profile": None if opts.profile is None else str(opts.profile),
                "stored": opts.stored,
            },
            "seconds": round(time.time() - started, 2),
            "cases": [r.to_json() for r in results],
        }
        (opts.out / f"{scenario.name}.json").write_text(json.dumps(document, indent=1, default=str))
        print_summary(scenario.name, results, scenario.headline)
    bad = [r for r in results if r.outcome in ("fail", "xpass", "error")]
    return 1 if bad else 0


def stored_count(text: str) -> int:
    """``--stored N``: how many final invocations to store, 0 or more."""
    if not text.isdecimal():
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected how many final invocations to store, 0 or more"
        )
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pynenc-scenarios",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="every scenario, each in its own process")
    one = commands.add_parser("scenario", help="one scenario, in this process")
    one.add_argument("name", choices=SUITE, metavar="SCENARIO", help=", ".join(SUITE))
    for command in (run, one):
        _backend_option(command)
        command.add_argument("--quick", action="store_true", help="the short (CI) form")
        command.add_argument(
            "--out", type=Path, default=DEFAULT_OUT, help=f"results directory ({DEFAULT_OUT})"
        )
        command.add_argument(
            "--stored",
            type=stored_count,
            default=0,
            metavar="N",
            help="throughput: store N final invocations of another task in each case "
            "before its tasks are registered (default 0: an empty store)",
        )
    run.add_argument(
        "--only",
        action="append",
        choices=SUITE,
        metavar="SCENARIO",
        help=f"run only these scenarios (repeatable): {', '.join(SUITE)}",
    )
    run.add_argument(
        "--runner",
        action="append",
        default=[],
        choices=list(RUNNER_ABBREVIATIONS),
        help="drive only these runner types (repeatable; default: each scenario's own)",
    )
    one.add_argument(
        "--runner",
        action="append",
        choices=[*RUNNER_TYPES, "all"],
        help="runner type to drive (repeatable; default: all that apply, fewer in --quick "
        "for some scenarios)",
    )
    one.add_argument("--keep", action="store_true", help="keep the work directories")
    one.add_argument("--verbose", action="store_true", help="runner logs at info level")
    one.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample runners with py-spy once they are up; raw stacks per case and "
        "runner in DIR (the benchmark's e2e phase reads them)",
    )
    matrix = commands.add_parser("matrix", help="the table of the summaries under a directory")
    matrix.add_argument("results", type=Path, help="directory holding one folder per run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``pynenc-scenarios`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "matrix":
        sys.stdout.write(write_matrix(args.results))
        return 0
    backend = scenario_backend(args.backend, parser.error)
    if args.command == "scenario":
        scenario = load_scenario(args.name)
        args.out = args.out / scenario.name if args.out == DEFAULT_OUT else args.out
        return run_scenario(scenario, args, backend)
    install_cleanup()  # SIGTERM (nox, CI) ends the running scenario as Ctrl-C does
    try:
        with services_started(backend):
            return run_suite(
                args.backend,
                backend,
                out=args.out,
                quick=args.quick,
                only=args.only,
                runners=args.runner,
                stored=args.stored,
            )
    except BackendDescriptionError as problem:
        parser.error(str(problem))


def entry_point() -> NoReturn:
    """Console script."""
    sys.exit(main())

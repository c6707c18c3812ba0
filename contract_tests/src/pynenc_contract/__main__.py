"""Contract tools: ``pynenc-contract {markdown,check,expect,describe,matrix}`` (or
``python -m pynenc_contract``)."""

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path
from typing import NoReturn

from pynenc_contract import matrix, suite
from pynenc_contract.backend import BackendDescriptionError, load_backend
from pynenc_contract.clauses import coverage_gaps, markdown
from pynenc_contract.plugin import MARKER
from pynenc_contract.report import FAIL, KNOWN_FAILURE, XFAIL


def clause_ids_with_tests() -> set[str]:
    """Clause ids that some test of the suite is tagged with."""
    found: set[str] = set()
    for module_info in pkgutil.iter_modules(suite.__path__, f"{suite.__name__}."):
        module = importlib.import_module(module_info.name)
        for name, test in vars(module).items():
            if name.startswith("test_"):
                for mark in getattr(test, "pytestmark", []):
                    if mark.name == MARKER:
                        found.update(mark.args)
    return found


class ReportError(ValueError):
    """A file given to ``expect`` is missing or is not a report."""


def failing_checks(path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The backend of a report and its failing checks (key, reason, clauses): tests of a contract
    report (``conformance.json``), checks of a scenario summary (``summary.json``) but
    those of pynenc's own runner defects (the scenarios know them, whatever the backend)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, ValueError) as error:
        raise ReportError(f"{path}: not a JSON report ({error})") from None
    if isinstance(data, dict) and "tests" in data:
        return data["backend"], [
            (
                test_id,
                result["reason"].removeprefix(KNOWN_FAILURE) or "fails",
                ", ".join(result.get("clauses", [])),
            )
            for test_id, result in sorted(data["tests"].items())
            if result["outcome"] in {FAIL, XFAIL}
        ]
    if isinstance(data, dict) and "runs" in data:
        return data["backend"], [
            (
                f"{run['scenario']}/{case['label']}: {check['name']}",
                check["detail"] or "fails",
                "",
            )
            for run in data["runs"]
            for case in run.get("cases", [])
            for check in case["checks"]
            if not check["ok"]
            and case["expected_failures"].get(check["name"], {}).get("of") != "pynenc"
        ]
    raise ReportError(
        f"{path}: neither a contract report (conformance.json of --contract-report) nor a "
        "scenario summary (summary.json of pynenc-scenarios run)"
    )


def known_failures_from_reports(reports: list[Path]) -> str:
    """Python source of a ``known_failures`` mapping: every failing test or scenario
    check of the reports, to paste into a backend description as it is, then name each
    defect (keys match as they are printed)."""
    lines = ["from pynenc_contract import KnownFailure", "", "known_failures = {"]
    for path in reports:
        backend, failing = failing_checks(path)
        lines.append(f"    # {backend} ({path.name})")
        lines += [
            f"    {key!r}: KnownFailure('DEFECT', {reason!r}),"
            + (f"  # {clauses}" if clauses else "")
            for key, reason, clauses in failing
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def describe(spec: str) -> dict[str, object]:
    """What a harness needs to know about a backend before it runs it (JSON-ready)."""
    backend = load_backend(spec)
    orchestrator = backend.orchestrator_class
    return {
        "name": backend.name,
        "orchestrator": f"{orchestrator.__module__}.{orchestrator.__qualname__}",
        "components": {
            kind.value: f"{cls.__module__}.{cls.__qualname__}"
            for kind, cls in backend.components.items()
        },
        "capabilities": sorted(backend.capabilities),
        "services": {service.value: service.url_env for service in sorted(backend.services)},
        "distributions": list(backend.distributions),
        "known_failures": len(backend.known_failures),
    }


def _matrix(reports: Path, readme: Path | None, *, check: bool) -> int:
    try:
        results = matrix.load(reports)
    except (matrix.StaleReportError, matrix.DuplicateReportError) as error:
        print(error, file=sys.stderr)
        return 1
    if not results:
        print(f"no conformance.json under {reports}", file=sys.stderr)
        return 1
    matrix.write(reports, results)
    reports_read = sum(len(result.pythons) for result in results)
    print(f"{reports / 'matrix.md'}: {len(results)} backends from {reports_read} reports")
    if readme is None:
        return 0
    current = readme.read_text()
    fresh = matrix.with_summary(current, results)
    if fresh == current:
        return 0
    if check:
        print(
            f"{readme}: the conformance summary is stale; run pynenc-contract "
            f"matrix {reports} --readme {readme}",
            file=sys.stderr,
        )
        return 1
    readme.write_text(fresh)
    print(f"{readme}: conformance summary updated")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pynenc-contract", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("markdown", help="print CONTRACT.md")
    commands.add_parser("check", help="fail when a clause, method or guarantee is uncovered")
    expect = commands.add_parser(
        "expect", help="print a known_failures mapping of the failures of reports"
    )
    expect.add_argument(
        "reports",
        nargs="+",
        type=Path,
        help="conformance.json of contract runs, summary.json of scenario runs",
    )
    described = commands.add_parser(
        "describe", help="print a backend description as JSON (services it needs, ...)"
    )
    described.add_argument("spec", help="module:attribute of a BackendDescription")
    matrix_command = commands.add_parser(
        "matrix", help="the backend x clause matrix of the reports under a directory"
    )
    matrix_command.add_argument("reports", type=Path, help="directory of report folders")
    matrix_command.add_argument(
        "--readme", type=Path, help="regenerate the summary block of this README"
    )
    matrix_command.add_argument(
        "--check", action="store_true", help="with --readme: fail when the block is stale"
    )
    args = parser.parse_args(argv)
    if args.command == "describe":
        try:
            print(json.dumps(describe(args.spec), indent=1))
        except BackendDescriptionError as error:
            parser.error(str(error))
    elif args.command == "matrix":
        return _matrix(args.reports, args.readme, check=args.check)
    elif args.command == "markdown":
        sys.stdout.write(markdown())
    elif args.command == "check":
        gaps = coverage_gaps(clause_ids_with_tests())
        for gap in gaps:
            print(gap, file=sys.stderr)
        return 1 if gaps else 0
    else:
        try:
            sys.stdout.write(known_failures_from_reports(args.reports))
        except ReportError as error:
            parser.error(f"expect: {error}")
    return 0


def entry_point() -> NoReturn:
    """Console script ``pynenc-contract``."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()

"""Contract tools: ``python -m pynenc_contract {markdown,check,expect}``."""

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from pynenc_contract import suite
from pynenc_contract.clauses import coverage_gaps, markdown
from pynenc_contract.plugin import MARKER


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


def expectations_from_reports(reports: list[Path]) -> dict[str, dict[str, str]]:
    """Known failures per backend from conformance.json reports: {backend: {test: reason}}."""
    recorded: dict[str, dict[str, str]] = {}
    for path in reports:
        data = json.loads(path.read_text())
        failures = {
            test_id: result["reason"] or "fails"
            for test_id, result in sorted(data["tests"].items())
            if result["outcome"] in {"fail", "known-fail"}
        }
        if failures:
            recorded.setdefault(data["backend"], {}).update(failures)
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pynenc_contract", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("markdown", help="print CONTRACT.md")
    commands.add_parser("check", help="fail when a clause, method or guarantee is uncovered")
    expect = commands.add_parser(
        "expect", help="write known failures from conformance reports to an expectations file"
    )
    expect.add_argument("reports", nargs="+", type=Path, help="conformance.json files")
    expect.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "markdown":
        sys.stdout.write(markdown())
    elif args.command == "check":
        gaps = coverage_gaps(clause_ids_with_tests())
        for gap in gaps:
            print(gap, file=sys.stderr)
        return 1 if gaps else 0
    else:
        recorded = expectations_from_reports(args.reports)
        args.output.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
        print(f"{sum(map(len, recorded.values()))} known failures of {len(recorded)} backends")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

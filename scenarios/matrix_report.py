"""One table of every scenario case x matrix cell, from the cells' summary.json files.

Each cell shows the outcome, the seconds the case took and its headline metric.

python scenarios/matrix_report.py results/scenarios
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: The metric shown per case: the first one a case reports, its format, and the unit
#: of numeric values.
HEADLINE_METRICS = (
    ("tasks_per_s", "{} tasks/s", ""),
    ("running_overlaps", "{} overlaps", ""),
    ("duplicates", "{} duplicates", ""),
    ("ran_twice", "{} ran twice", ""),
    ("resumed_after_s", "resumed after {}", "s"),
)


def matrix(results: Path) -> str:
    """Markdown: one row per case (scenario/label), one column per cell."""
    cells: dict[str, dict[str, str]] = {}
    for summary in sorted(results.glob("*/summary.json")):
        data = json.loads(summary.read_text())
        outcomes = cells.setdefault(summary.parent.name, {})
        for run in data["runs"]:
            for case in run["cases"]:
                outcomes[f"{case['scenario']} {case['label']}"] = _cell(case)
    if not cells:
        return "no summary.json under " + str(results)
    rows = sorted({case for outcomes in cells.values() for case in outcomes})
    lines = ["| case | " + " | ".join(cells) + " |", "|---" * (len(cells) + 1) + "|"]
    lines += [
        f"| {case} | " + " | ".join(cells[cell].get(case, "-") for cell in cells) + " |"
        for case in rows
    ]
    return "\n".join(lines) + "\n"


def _cell(case: dict[str, Any]) -> str:
    text = f"{case['outcome']} {case['seconds']:.0f}s"
    for name, form, unit in HEADLINE_METRICS:
        if name in case["metrics"]:
            value = case["metrics"][name]
            shown = f"{value}{unit}" if isinstance(value, int | float) else str(value)
            return f"{text}, {form.format(shown)}"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path, help="directory holding one folder per cell")
    args = parser.parse_args()
    table = matrix(args.results)
    (args.results / "matrix.md").write_text(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

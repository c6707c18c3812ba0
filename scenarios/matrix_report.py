"""The scenario matrix, backend x scenario x runner type, from the cells' summary.json.

Each cell of the table shows the outcome, the seconds the case took and its
headline metric (the first one its scenario declares that the case reports).

python scenarios/matrix_report.py results/scenarios
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.outcome import runner_table
from harness.scenario import RUNNER_ABBREVIATIONS


def matrix(results: Path) -> str:
    """Markdown: one row per matrix cell (nox session and backend) and scenario, one
    column per runner type."""
    columns = list(RUNNER_ABBREVIATIONS.values())
    lines = [
        "| cell | backend | scenario | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 3) + "|",
    ]
    for summary in sorted(results.glob("*/summary.json")):
        data = json.loads(summary.read_text())
        for scenario, cells in runner_table(data["runs"]).items():
            row = [summary.parent.name, data["backend"], scenario]
            row += [cells.get(column, "-") for column in columns]
            lines.append("| " + " | ".join(row) + " |")
    if len(lines) == 2:
        return f"no summary.json under {results}\n"
    return "\n".join(lines) + "\n"


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

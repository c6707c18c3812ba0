"""The scenario matrix, backend x scenario x runner type, from the cells' summary.json.

Each cell of the table shows the outcome, the seconds the case took and its
headline metric (the first one its scenario declares that the case reports).

``pynenc-scenarios matrix results/scenarios``
"""

import json
from pathlib import Path

from pynenc_scenarios.cases import RUNNER_ABBREVIATIONS
from pynenc_scenarios.outcome import runner_table


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


def write_matrix(results: Path) -> str:
    """The matrix of the summaries under ``results``, also written to its matrix.md."""
    table = matrix(results)
    if results.is_dir():
        (results / "matrix.md").write_text(table)
    return table

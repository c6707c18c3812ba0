"""Probes: what task bodies record of their runs, one file per process.

Each process appends its probes to ``<dir>/<pid>.jsonl``, one JSON line per
``os.write`` on a file opened for appending: no process ever waits for another's
lock, so that a process stopped in the middle of a probe (SIGSTOP, the nemesis)
cannot hold up the probes, and the bodies, of the others.
"""

import json
import os
from pathlib import Path
from typing import NamedTuple


class Probe(NamedTuple):
    """One probe: a body's start or end (``kind``), when (epoch seconds) and where."""

    ts: float
    kind: str
    invocation_id: str
    key: str
    pid: int
    runner_id: str


def write_probe(directory: Path, probe: Probe) -> None:
    """Append ``probe`` to this process's file in ``directory``."""
    line = (json.dumps(probe._asdict()) + "\n").encode()
    fd = os.open(directory / f"{os.getpid()}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_probes(directory: Path) -> list[Probe]:
    """Every probe in ``directory``, by time; a line cut short by a kill is left out."""
    probes = []
    for path in directory.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                probes.append(Probe(**json.loads(line)))
            except (ValueError, TypeError):
                continue
    return sorted(probes)

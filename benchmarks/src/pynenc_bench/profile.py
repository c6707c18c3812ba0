"""CPU of runner processes by pynenc component, from py-spy's raw stacks.

The scenarios write one raw file per runner with ``--profile`` (py-spy: one line per
distinct stack, ``frame;frame;... count``, root first, full file names, non-idle
samples only). A sample belongs to the innermost frame of a component: the state
backend's own SQL, serialization and logging count as state backend even when the
orchestrator called it. Frames of the shared SQLite helpers (pynenc's
``util/sqlite_utils.py``, our ``database.py``) pass to their caller. Samples under a
connection's set-up (connect and PRAGMAs) are also counted across components. Samples
that import modules (workers still starting) are start-up, not a component's work.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Components, each with the source directories (pynenc's and ours) of its classes.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("orchestrator", ("/pynenc/orchestrator/", "/pynenc_sqlite/orchestrator/")),
    ("broker", ("/pynenc/broker/", "/pynenc_sqlite/broker/")),
    ("state backend", ("/pynenc/state_backend/", "/pynenc_sqlite/state_backend/")),
    ("trigger", ("/pynenc/trigger/", "/pynenc_sqlite/trigger/")),
    ("client data store", ("/pynenc/client_data_store/", "/pynenc_sqlite/client_data_store/")),
    ("runner", ("/pynenc/runner/",)),
)
#: Samples in no component: invocation and task code, interpreter, libraries.
OTHER = "other"
#: Samples importing modules: worker processes still starting, or a lazy import. They
#: are counted apart from the work per task.
STARTUP = "start-up (imports)"
_IMPORTING = "<frozen importlib._bootstrap"
#: (file, function) of the frames that open a connection and set it up.
CONNECTION_SETUP = (
    ("/pynenc/util/sqlite_utils.py", "create_sqlite_connection"),
    ("/pynenc_sqlite/database.py", "Database._connect"),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):\d+\)$")


@dataclass
class Breakdown:
    """Samples of runner processes, by component and under connection set-up."""

    samples: int = 0
    by_component: Counter[str] = field(default_factory=Counter)
    connection_setup: int = 0

    def add_stack(self, stack: str, count: int) -> None:
        """Count one raw line's stack ``count`` times."""
        frames = [_parse(frame) for frame in stack.split(";")]
        self.samples += count
        self.by_component[_component(frames)] += count
        if any(
            function == name and path.endswith(suffix)
            for function, path in frames
            for suffix, name in CONNECTION_SETUP
        ):
            self.connection_setup += count

    def share(self, component: str) -> float:
        """Fraction of the samples in ``component``."""
        return self.by_component[component] / self.samples if self.samples else 0.0

    def setup_share(self) -> float:
        """Fraction of the samples under connection set-up."""
        return self.connection_setup / self.samples if self.samples else 0.0

    def to_json(self) -> dict[str, object]:
        """Counts as plain data (bench.json)."""
        return {
            "samples": self.samples,
            "by_component": dict(self.by_component),
            "connection_setup": self.connection_setup,
        }


def read_raw(paths: Iterable[Path]) -> Breakdown:
    """The breakdown of every stack in the raw files ``paths``."""
    breakdown = Breakdown()
    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                breakdown.add_stack(stack, int(count))
    return breakdown


def _parse(frame: str) -> tuple[str, str]:
    """(function, file) of one frame; a frame without a file (py-spy's process root)
    has an empty file."""
    found = _FRAME.match(frame)
    return (found["function"], found["file"]) if found else (frame, "")


def _component(frames: list[tuple[str, str]]) -> str:
    """The component of the innermost frame that belongs to one; start-up when the
    sample is importing."""
    if any(path.startswith(_IMPORTING) for _, path in frames):
        return STARTUP
    for _, path in reversed(frames):
        for name, directories in COMPONENTS:
            if any(directory in path for directory in directories):
                return name
    return OTHER

"""The benchmark's own dependencies, checked before the first phase starts.

A dependency is checked only when the run will use it: matplotlib draws the scale and
e2e charts, py-spy samples the runners in the e2e phase, rich renders the report on a
terminal. All three are dependencies of pynenc-orchestrator-bench; a missing one (an
environment installed without them) is one line naming the fix, not a crash minutes
into the run.
"""

from collections.abc import Collection
from dataclasses import dataclass
from importlib.util import find_spec

from pynenc_scenarios.profiling import py_spy_path


@dataclass(frozen=True)
class Dependency:
    """What a run needs: an importable module or the py-spy executable."""

    #: The distribution to install.
    distribution: str
    #: What the run uses it for.
    purpose: str
    #: The module to import (``None`` for an executable).
    module: str | None = None


MATPLOTLIB = Dependency("matplotlib", "the scale and e2e charts", "matplotlib")
PY_SPY = Dependency("py-spy", "the e2e phase's CPU profile")
RICH = Dependency("rich", "the report on a terminal", "rich")


def needed(phases: Collection[str], terminal: bool) -> list[Dependency]:
    """The dependencies a run of ``phases`` uses (``terminal``: stdout is a terminal)."""
    found = []
    if {"scale", "e2e"} & set(phases):
        found.append(MATPLOTLIB)
    if "e2e" in phases:
        found.append(PY_SPY)
    if terminal:
        found.append(RICH)
    return found


def importable(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return find_spec(module) is not None


def is_installed(dependency: Dependency) -> bool:
    if dependency.module is not None:
        return importable(dependency.module)
    try:
        py_spy_path()
    except RuntimeError:
        return False
    return True


def missing_message(phases: Collection[str], terminal: bool) -> str | None:
    """One line naming what is missing and the command that installs it (``None``
    when nothing is)."""
    missing = [dep for dep in needed(phases, terminal) if not is_installed(dep)]
    if not missing:
        return None
    what = ", ".join(f"{dep.distribution} ({dep.purpose})" for dep in missing)
    install = " ".join(dep.distribution for dep in missing)
    them = "them" if len(missing) > 1 else "it"
    return f"pynenc-bench: missing {what}; install {them}: pip install {install}"

"""pynenc's own orchestrators under the contract: memory and the built-in SQLite one."""

from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc.orchestrator.mem_orchestrator import MemOrchestrator
from pynenc.orchestrator.sqlite_orchestrator import SQLiteOrchestrator

from pynenc_contract import Capability, ContractBackend


def build_memory_app(app_id: str, workdir: Path) -> Pynenc:
    """All components in memory (one process only)."""
    return PynencBuilder().app_id(app_id).memory().build()


def build_sqlite_app(app_id: str, workdir: Path) -> Pynenc:
    """All components on pynenc's SQLite classes, one file."""
    return PynencBuilder().app_id(app_id).sqlite(str(workdir / "pynenc.sqlite3")).build()


MEMORY = ContractBackend(
    name="pynenc-memory",
    orchestrator_class=MemOrchestrator,
    build_app=build_memory_app,
)

BUILTIN_SQLITE = ContractBackend(
    name="pynenc-builtin-sqlite",
    orchestrator_class=SQLiteOrchestrator,
    build_app=build_sqlite_app,
    child_build_app=f"{__name__}:build_sqlite_app",
    capabilities=frozenset({Capability.CROSS_PROCESS}),
)

"""pynenc-rustvello under the contract, with its embedded (SQLite, native) backend."""

from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc_rustvello.orchestrator_backends import RustSqliteNativeOrchestrator

from pynenc_contract import BackendDescription, Capability, KnownFailure


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """Every component on rustvello's embedded SQLite store in ``workdir``."""
    app: Pynenc = (
        PynencBuilder()
        .app_id(app_id)
        .rustvello_sqlite(sqlite_db_path=str(workdir / "rustvello.sqlite3"))
        .build()
    )
    return app


BACKEND = BackendDescription(
    name="pynenc-rustvello",
    orchestrator_class=RustSqliteNativeOrchestrator,
    build_app=build_app,
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("pynenc-rustvello", "rustvello"),
    known_failures={
        "*.py::*": KnownFailure(
            "pynenc-rustvello 0.1.3: five abstract methods missing",
            "the orchestrator lacks pynenc 0.4's atomic-service execution methods "
            "(record_atomic_service_execution_start, finalize_..., get_active_..., ...), "
            "so it cannot be instantiated (API-1)",
        )
    },
)

"""pynenc-rustvello under the contract, with its embedded (SQLite, native) backend."""

from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder
from pynenc_rustvello.broker import RustSqliteBroker
from pynenc_rustvello.client_data_store import RustSqliteClientDataStore
from pynenc_rustvello.orchestrator_backends import RustSqliteNativeOrchestrator
from pynenc_rustvello.state_backend import RustSqliteStateBackend
from pynenc_rustvello.trigger import RustSqliteTrigger

from adapters import component_defects
from pynenc_contract import BackendDescription, Capability, Component, KnownFailure


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """Every component on rustvello's embedded SQLite store in ``workdir``."""
    app: Pynenc = (
        PynencBuilder()
        .app_id(app_id)
        .rustvello_sqlite(sqlite_db_path=str(workdir / "rustvello.sqlite3"))
        .build()
    )
    return app


ORCHESTRATOR_MISSES_METHODS = KnownFailure(
    "pynenc-rustvello 0.1.3: five abstract methods missing",
    "the orchestrator lacks pynenc 0.4's atomic-service execution methods "
    "(record_atomic_service_execution_start, finalize_..., get_active_..., ...), "
    "so it cannot be instantiated (API-1)",
)

BACKEND = BackendDescription(
    name="pynenc-rustvello",
    orchestrator_class=RustSqliteNativeOrchestrator,
    build_app=build_app,
    components={
        Component.BROKER: RustSqliteBroker,
        Component.STATE_BACKEND: RustSqliteStateBackend,
        Component.TRIGGER: RustSqliteTrigger,
        Component.CLIENT_DATA_STORE: RustSqliteClientDataStore,
    },
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("pynenc-rustvello", "rustvello"),
    known_failures={
        **component_defects.RUSTVELLO,
        **{
            f"{module}::*": ORCHESTRATOR_MISSES_METHODS
            for module in (
                *("test_atomic_service.py", "test_blocking.py", "test_concurrency.py"),
                *("test_concurrency_control.py", "test_flows.py", "test_interface.py"),
                *("test_isolation.py", "test_lookups.py", "test_model.py", "test_purge.py"),
                *("test_registration.py", "test_runners.py", "test_transitions.py"),
            )
        },
    },
)

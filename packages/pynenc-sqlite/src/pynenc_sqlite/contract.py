"""This orchestrator's descriptions for the harness: one per journal mode.

``pynenc_sqlite.contract:WAL`` (``DELETE``, ``TRUNCATE``, ``PERSIST``, ``MEMORY``)
runs the contract (``pytest --pyargs pynenc_contract.suite --contract-backend
pynenc_sqlite.contract:DELETE``), the scenarios and the benchmark
(``--backend pynenc_sqlite.contract:DELETE``). ``BACKEND`` is the one that
``$PYNENC_SQLITE_JOURNAL_MODE`` names (default wal). Needs the ``contract`` extra.
"""

import os
from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder

from pynenc_contract import BackendDescription, Capability
from pynenc_sqlite import PynencSQLiteOrchestrator
from pynenc_sqlite.conf.config_orchestrator import JournalMode

#: The file of this orchestrator and the file of pynenc's other SQLite components.
ORCHESTRATOR_FILE, COMPONENTS_FILE = "orchestrator.sqlite3", "components.sqlite3"


def description(journal_mode: str) -> BackendDescription:
    """Ours in ``journal_mode``, with pynenc's SQLite components in a file of their own."""

    def build_app(app_id: str, workdir: Path) -> Pynenc:
        app: Pynenc = (
            PynencBuilder()
            .app_id(app_id)
            .sqlite(str(workdir / COMPONENTS_FILE))
            .sqlite_orchestrator(str(workdir / ORCHESTRATOR_FILE), journal_mode=journal_mode)
            .build()
        )
        return app

    return BackendDescription(
        name=f"pynenc-sqlite ({journal_mode})",
        orchestrator_class=PynencSQLiteOrchestrator,
        build_app=build_app,
        capabilities=frozenset({Capability.CROSS_PROCESS}),
        distributions=("pynenc-sqlite",),
    )


WAL, DELETE, TRUNCATE, PERSIST, MEMORY = (description(mode.value) for mode in JournalMode)
BACKEND = description(os.environ.get("PYNENC_SQLITE_JOURNAL_MODE", "wal"))

"""This orchestrator's description for the pynenc orchestrator contract suite.

Run the contract with ``pytest --pyargs pynenc_contract.suite
--contract-backend pynenc_sqlite.contract:BACKEND``; the journal mode comes from
``$PYNENC_SQLITE_JOURNAL_MODE`` (default wal). Needs the ``contract`` extra.
"""

import os
from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder

from pynenc_contract import Capability, ContractBackend
from pynenc_sqlite import PynencSQLiteOrchestrator

JOURNAL_MODE = os.environ.get("PYNENC_SQLITE_JOURNAL_MODE", "wal")


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """pynenc's SQLite components in one file, our orchestrator in its own file."""
    app: Pynenc = (
        PynencBuilder()
        .app_id(app_id)
        .sqlite(str(workdir / "components.sqlite3"))
        .sqlite_orchestrator(str(workdir / "orchestrator.sqlite3"), journal_mode=JOURNAL_MODE)
        .build()
    )
    return app


BACKEND = ContractBackend(
    name=f"pynenc-sqlite ({JOURNAL_MODE})",
    orchestrator_class=PynencSQLiteOrchestrator,
    build_app=build_app,
    child_build_app=f"{__name__}:build_app",
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("pynenc-sqlite",),
)

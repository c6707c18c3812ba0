"""pynenc-sqlite's descriptions for the harness: the orchestrator in each journal mode,
and the stack, every pynenc-sqlite component in one file, in each journal mode
(``STACK_WAL`` ... ``STACK_MEMORY``; ``STACK`` is ``STACK_WAL``).

``pynenc_sqlite.contract:WAL`` (``DELETE``, ``TRUNCATE``, ``PERSIST``, ``MEMORY``)
runs the contract (``pytest --pyargs pynenc_contract.suite --contract-backend
pynenc_sqlite.contract:DELETE``), the scenarios and the benchmark
(``--backend pynenc_sqlite.contract:DELETE``). ``BACKEND`` is the one that
``$PYNENC_SQLITE_JOURNAL_MODE`` names (default wal). Needs the ``contract`` extra.
"""

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pynenc import Pynenc
from pynenc.builder import PynencBuilder

from pynenc_contract import BackendDescription, Capability, Check, Component
from pynenc_sqlite import (
    PynencSQLiteBroker,
    PynencSQLiteClientDataStore,
    PynencSQLiteOrchestrator,
    PynencSQLiteStateBackend,
    PynencSQLiteTrigger,
)
from pynenc_sqlite.conf.config_database import JournalMode

#: The file of this orchestrator, of every pynenc-sqlite component, and of pynenc's
#: other SQLite components.
ORCHESTRATOR_FILE, STACK_FILE = "orchestrator.sqlite3", "stack.sqlite3"
COMPONENTS_FILE = "components.sqlite3"


def check_journal_mode(app: Pynenc) -> Check | None:
    """The orchestrator's file shows the journal mode it was configured with (``None``
    when the app's orchestrator is not ours).

    WAL is recorded in the file header (bytes 18-19 are 2); of the rollback modes,
    ``persist`` leaves a non-empty -journal file, ``truncate`` an empty one, ``delete``
    and ``memory`` none.
    """
    orchestrator = app.orchestrator
    if not isinstance(orchestrator, PynencSQLiteOrchestrator):
        return None
    path = Path(orchestrator.sqlite_db_path)
    with path.open("rb") as handle:
        wal = handle.read(20)[18:20] == b"\x02\x02"
    journal = path.with_name(path.name + "-journal")
    if wal:
        seen = {"wal"}
    elif journal.exists():
        seen = {"persist"} if journal.stat().st_size else {"truncate"}
    else:
        seen = {"delete", "memory"}
    wanted = orchestrator.database.settings.journal_mode.value
    return Check(
        f"orchestrator file in journal mode {wanted}",
        wanted in seen,
        f"file shows {' or '.join(sorted(seen))}",
    )


#: Every component of pynenc-sqlite but the orchestrator.
COMPONENTS = {
    Component.BROKER: PynencSQLiteBroker,
    Component.STATE_BACKEND: PynencSQLiteStateBackend,
    Component.TRIGGER: PynencSQLiteTrigger,
    Component.CLIENT_DATA_STORE: PynencSQLiteClientDataStore,
}


def _described(
    name: str,
    select: Callable[[Any, Path], Any],
    components: Mapping[Component, type] | None = None,
) -> BackendDescription:
    """Apps built with pynenc's SQLite components in their own file, then ``select``
    (given the builder and the work dir) choosing ours (``components``: the ones beyond
    the orchestrator)."""

    def build_app(app_id: str, workdir: Path) -> Pynenc:
        builder = PynencBuilder().app_id(app_id).sqlite(str(workdir / COMPONENTS_FILE))
        app: Pynenc = select(builder, workdir).build()
        return app

    return BackendDescription(
        name=name,
        orchestrator_class=PynencSQLiteOrchestrator,
        build_app=build_app,
        capabilities=frozenset({Capability.CROSS_PROCESS}),
        distributions=("pynenc-sqlite",),
        app_checks=(check_journal_mode,),
        components=components or {},
    )


def description(journal_mode: str) -> BackendDescription:
    """Ours in ``journal_mode``, with pynenc's SQLite components in a file of their own."""
    return _described(
        f"pynenc-sqlite ({journal_mode})",
        lambda builder, workdir: builder.sqlite_orchestrator(
            str(workdir / ORCHESTRATOR_FILE), journal_mode=journal_mode
        ),
    )


WAL, DELETE, TRUNCATE, PERSIST, MEMORY = (description(mode.value) for mode in JournalMode)
BACKEND = description(os.environ.get("PYNENC_SQLITE_JOURNAL_MODE", "wal"))


def stack(journal_mode: str) -> BackendDescription:
    """Every pynenc-sqlite component in one file in ``journal_mode``."""
    return _described(
        f"pynenc-sqlite stack ({journal_mode})",
        lambda builder, workdir: builder.sqlite_stack(
            str(workdir / STACK_FILE), journal_mode=journal_mode
        ),
        COMPONENTS,
    )


STACK_WAL, STACK_DELETE, STACK_TRUNCATE, STACK_PERSIST, STACK_MEMORY = (
    stack(mode.value) for mode in JournalMode
)
#: The stack in WAL, the mode a new file gets.
STACK = STACK_WAL

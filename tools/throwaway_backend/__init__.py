"""A backend package as an outside author writes one: its own orchestrator class (here a
subclass of pynenc-sqlite's) and its description. The harness's tests (the root
conftest's ``author_dir``) and ``nox -s outside_author`` copy it out of the repo and run
the documented commands beside it."""

from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder

from pynenc_contract import BackendDescription, Capability
from pynenc_sqlite import PynencSQLiteOrchestrator
from pynenc_sqlite.contract import check_journal_mode


class ThrowawayOrchestrator(PynencSQLiteOrchestrator):
    """An orchestrator of someone else's package."""


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """pynenc's SQLite components, and this package's orchestrator in a file of its own."""
    app: Pynenc = (
        PynencBuilder()
        .app_id(app_id)
        .sqlite(str(workdir / "pynenc.sqlite3"))
        .sqlite_orchestrator(str(workdir / "throwaway.sqlite3"), journal_mode="truncate")
        .custom_config(orchestrator_cls="ThrowawayOrchestrator")
        .build()
    )
    return app


BACKEND = BackendDescription(
    name="throwaway",
    orchestrator_class=ThrowawayOrchestrator,
    build_app=build_app,
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("throwaway_backend",),
    app_checks=(check_journal_mode,),
)

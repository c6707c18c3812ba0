"""A backend package as an outside author writes one: its own orchestrator and broker
classes (here subclasses of pynenc-sqlite's) and its description, which names the
broker; the contract skips the kinds it does not name. The harness's tests (the root
conftest's ``author_dir``) and ``nox -s outside_author`` copy it out of the repo and run
the documented commands beside it."""

from pathlib import Path

from pynenc import Pynenc
from pynenc.builder import PynencBuilder

from pynenc_contract import BackendDescription, Capability, Component
from pynenc_sqlite import PynencSQLiteBroker, PynencSQLiteOrchestrator
from pynenc_sqlite.contract import check_journal_mode


class ThrowawayOrchestrator(PynencSQLiteOrchestrator):
    """An orchestrator of someone else's package."""


class ThrowawayBroker(PynencSQLiteBroker):
    """A broker of someone else's package."""


def build_app(app_id: str, workdir: Path) -> Pynenc:
    """pynenc-sqlite's components in one file, with this package's orchestrator and
    broker."""
    app: Pynenc = (
        PynencBuilder()
        .app_id(app_id)
        .sqlite_stack(str(workdir / "throwaway.sqlite3"), journal_mode="truncate")
        .custom_config(orchestrator_cls="ThrowawayOrchestrator", broker_cls="ThrowawayBroker")
        .build()
    )
    return app


BACKEND = BackendDescription(
    name="throwaway",
    orchestrator_class=ThrowawayOrchestrator,
    build_app=build_app,
    components={Component.BROKER: ThrowawayBroker},
    capabilities=frozenset({Capability.CROSS_PROCESS}),
    distributions=("throwaway_backend",),
    app_checks=(check_journal_mode,),
)

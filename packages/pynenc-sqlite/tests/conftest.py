"""Fixtures for pynenc-sqlite's own tests: apps on a temporary database, per journal mode."""

import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pynenc import Pynenc

from pynenc_contract.kit import Clock
from pynenc_scenarios.processes import ManagedProcess, child_environment
from pynenc_sqlite import PynencSQLiteOrchestrator
from pynenc_sqlite.conf.config_orchestrator import CONFIG_SECTION
from pynenc_sqlite.contract import description, stack

#: The journal mode of this test run (the nox matrix sets it).
JOURNAL_MODE = os.environ.get("PYNENC_SQLITE_JOURNAL_MODE", "wal")

AppFactory = Callable[..., Pynenc]


def build_app(
    workdir: Path, app_id: str | None = None, db_path: Path | None = None, **options: Any
) -> Pynenc:
    """An app on pynenc-sqlite's description in ``workdir`` (this run's journal mode).

    ``options`` are orchestrator settings layered over it; ``db_path`` moves its file.
    """
    settings: dict[str, Any] = dict(options)
    if db_path is not None:
        settings["sqlite_db_path"] = str(db_path)
    described = description(settings.pop("journal_mode", JOURNAL_MODE))
    app_id = app_id or f"test-{uuid.uuid4().hex[:10]}"
    return described.new_app(app_id, workdir, {CONFIG_SECTION: settings} if settings else None)


def build_stack_app(workdir: Path, journal_mode: str = JOURNAL_MODE) -> Pynenc:
    """An app on every pynenc-sqlite component (one file) in ``workdir``."""
    return stack(journal_mode).new_app(f"stack-{uuid.uuid4().hex[:10]}", workdir)


def start_runner(
    workdir: Path, module: str, env: Mapping[str, str], name: str = "runner"
) -> ManagedProcess:
    """``python -m pynenc --app <module>.app runner start`` in ``workdir``, with ``env``
    added to the environment, logging to ``<name>.log`` there."""
    return ManagedProcess(
        name,
        [sys.executable, "-m", "pynenc", "--app", f"{module}.app", "runner", "start"],
        workdir,
        child_environment(env),
        workdir / f"{name}.log",
    )


class ForkedChild:
    """A forked child running ``body``; the test and the child take turns over pipes."""

    def __init__(self, body: Callable[["ForkedChild"], str]) -> None:
        to_child, to_test = os.pipe(), os.pipe()
        self.pid = os.fork()
        mine, theirs = (to_child, to_test) if self.pid == 0 else (to_test, to_child)
        os.close(mine[1])
        os.close(theirs[0])
        self._reads, self._writes = mine[0], theirs[1]
        self._heard = b""
        if self.pid == 0:  # pragma: no cover - runs in the child
            try:
                self.tell(body(self))
            finally:
                os._exit(0)

    def tell(self, message: str) -> None:
        """Send one line to the other side."""
        os.write(self._writes, f"{message}\n".encode())

    def hear(self) -> str:
        """The next line from the other side ("" once it is gone)."""
        while b"\n" not in self._heard and (chunk := os.read(self._reads, 4096)):
            self._heard += chunk
        line, _, self._heard = self._heard.partition(b"\n")
        return line.decode()

    def result(self) -> str:
        """What ``body`` returned, once the child has exited."""
        reply = self.hear()
        os.waitpid(self.pid, 0)
        self._close()
        return reply

    def kill(self) -> None:
        """SIGKILL the child (unless a signal ended it already) and reap it."""
        os.kill(self.pid, signal.SIGKILL)  # a zombie takes the signal without error
        _, status = os.waitpid(self.pid, 0)
        assert os.WIFSIGNALED(status), f"the child exited ({status}) before it was killed"
        self._close()

    def _close(self) -> None:
        os.close(self._reads)
        os.close(self._writes)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps in ``tmp_path``; their connections are closed afterwards."""
    apps: list[Pynenc] = []

    def make(**kwargs: Any) -> Pynenc:
        app = build_app(tmp_path, **kwargs)
        assert isinstance(app.orchestrator, PynencSQLiteOrchestrator)  # built now: errors here
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.orchestrator.close()  # type: ignore[attr-defined]


@pytest.fixture
def orchestrator(make_app: AppFactory) -> PynencSQLiteOrchestrator:
    """Our orchestrator on a fresh database."""
    orchestrator = make_app().orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    return orchestrator


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """This process's wall and monotonic clocks, moved together by ``clock.shift``."""
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        yield Clock(traveller, monkeypatch)

"""Retention: final invocations older than the period go, with everything stored about
them; what live invocations use stays; freed pages go back to the file system."""

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
import time_machine
from pynenc import Pynenc
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceExecutionStatus
from pynenc.runner.runner_context import RunnerContext

from conftest import JOURNAL_MODE
from pynenc_contract import kit, tasks
from pynenc_sqlite import PynencSQLiteOrchestrator
from pynenc_sqlite.cli import main
from pynenc_sqlite.conf.config_orchestrator import CONFIG_SECTION
from pynenc_sqlite.contract import stack
from pynenc_sqlite.retention import INCREMENTAL
from pynenc_sqlite.schema import MessageTables

PERIOD_HOURS = 2.0
RUNNER = RunnerContext("RetentionTestRunner", runner_id="retention-runner")
#: Large enough to be stored once in the client data store, by content.
SHARED = "shared " * 500
OWN = "own " * 500
#: Invocations run per ten minutes in the soak.
SOAK_INVOCATIONS_PER_STEP = 10


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(datetime(2026, 1, 5, tzinfo=UTC)) as traveller:
        yield traveller


def _stack_app(workdir: Path, **ours: Any) -> Pynenc:
    """An app of the stack in ``workdir``, with a retention period of ``PERIOD_HOURS``
    and ``ours`` as settings of pynenc-sqlite's orchestrator."""
    return stack(JOURNAL_MODE).new_app(
        "retention-app",
        workdir,
        {
            "orchestrator": {"auto_final_invocation_purge_hours": PERIOD_HOURS},
            CONFIG_SECTION: ours,
        },
    )


@pytest.fixture
def app(tmp_path: Path, clock: time_machine.Traveller) -> Iterator[Pynenc]:
    built = _stack_app(tmp_path)
    yield built
    _orchestrator(built).close()


def _orchestrator(app: Pynenc) -> PynencSQLiteOrchestrator:
    assert isinstance(app.orchestrator, PynencSQLiteOrchestrator)
    return app.orchestrator


def _routed(app: Pynenc, value: str) -> DistributedInvocation[Any, Any]:
    invocation = kit.task(app, tasks.echo)(value)
    assert isinstance(invocation, DistributedInvocation)
    return invocation


def _finished(app: Pynenc, value: str) -> DistributedInvocation[Any, Any]:
    """An invocation routed and run to SUCCESS, as a runner does."""
    invocation = _routed(app, value)
    for status in kit.path_to(InvocationStatus.RUNNING):
        app.orchestrator.set_invocation_status(invocation.invocation_id, status, RUNNER)
    app.orchestrator.set_invocation_result(invocation, value.upper(), RUNNER)
    return invocation


def _rows_naming(app: Pynenc, text: str) -> dict[str, int]:
    """Per table of the file, the rows with a text column that contains ``text``."""
    path = _orchestrator(app).sqlite_db_path
    found = {}
    with closing(sqlite3.connect(path)) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            columns = [
                row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[2] == "TEXT"
            ]
            if columns:
                where = " OR ".join(f"instr({column}, ?) > 0" for column in columns)
                (count,) = conn.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE {where}", [text] * len(columns)
                ).fetchone()
                if count:
                    found[table] = count
    return found


def _stored_values(app: Pynenc) -> int:
    with closing(sqlite3.connect(_orchestrator(app).sqlite_db_path)) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {MessageTables.CLIENT_DATA}").fetchone()[0])


def test_a_final_invocation_goes_after_the_period_with_everything_about_it(
    app: Pynenc, clock: time_machine.Traveller
) -> None:
    done = _finished(app, SHARED + OWN)
    live = _routed(app, SHARED)
    app.orchestrator.register_runner_heartbeats(["stopped-long-ago"])
    assert _rows_naming(app, done.invocation_id)  # the invocation, history, result, ...
    values_before = _stored_values(app)
    clock.shift(PERIOD_HOURS * 3600 - 60)
    app.orchestrator.auto_purge()
    assert app.orchestrator.count_invocations() == 2
    clock.shift(120)
    purged = _orchestrator(app).retention.purge(PERIOD_HOURS * 3600)
    # its argument and its result; the value that the live invocation names stays
    assert (purged.invocations, purged.values, purged.runners, purged.more) == (1, 2, 1, False)
    assert purged.pages_freed > 0
    assert _rows_naming(app, done.invocation_id) == {}
    assert _stored_values(app) == values_before - 2
    assert list(app.orchestrator.get_invocation_ids_paginated()) == [live.invocation_id]
    assert app.state_backend.get_invocation(live.invocation_id).call.arguments.kwargs == {
        "value": SHARED
    }


def test_a_value_stored_again_within_the_period_is_kept(
    app: Pynenc, clock: time_machine.Traveller
) -> None:
    _finished(app, SHARED)
    clock.shift(PERIOD_HOURS * 3600 + 60)
    again = _finished(app, SHARED)
    values = _stored_values(app)
    assert _orchestrator(app).retention.purge(PERIOD_HOURS * 3600).values == 0
    assert _stored_values(app) == values
    assert app.state_backend.get_result(again.invocation_id) == SHARED.upper()
    clock.shift(PERIOD_HOURS * 3600 + 60)
    assert _orchestrator(app).retention.purge(PERIOD_HOURS * 3600).values == values
    assert _stored_values(app) == 0


def test_one_process_at_a_time_runs_the_due_pass(
    app: Pynenc, tmp_path: Path, clock: time_machine.Traveller
) -> None:
    other = _stack_app(tmp_path)
    first, second = _orchestrator(app).retention, _orchestrator(other).retention
    assert first.pass_if_due(600, 3600, 1.0) is not None
    connection = _orchestrator(other).database.connection()
    changes = connection.total_changes
    assert second.pass_if_due(600, 3600, 1.0) is None
    assert connection.total_changes == changes, "a pass that is not due writes nothing"
    clock.shift(601)
    assert second.pass_if_due(600, 3600, 1.0) is not None
    _orchestrator(other).close()


def _atomic_service_run(app: Pynenc) -> None:
    """One run of the atomic service, as the runner that holds it does it."""
    orchestrator = _orchestrator(app)
    orchestrator.register_runner_heartbeats([RUNNER.runner_id], can_run_atomic_service=True)
    run = orchestrator.try_claim_atomic_service_run(RUNNER)
    assert run is not None
    app.trigger.trigger_loop_iteration(run)
    orchestrator.finalize_atomic_service_execution(
        run, datetime.now(UTC), AtomicServiceExecutionStatus.COMPLETED
    )


@pytest.mark.parametrize(("interval_minutes", "kept"), [(10.0, False), (0.0, True)])
def test_the_runner_holding_the_atomic_service_runs_retention(
    tmp_path: Path, clock: time_machine.Traveller, interval_minutes: float, kept: bool
) -> None:
    """Retention runs by itself, unless ``retention_interval_minutes`` is 0."""
    app = _stack_app(tmp_path, retention_interval_minutes=interval_minutes)
    done = _finished(app, OWN)
    clock.shift(PERIOD_HOURS * 3600 + 60)
    _atomic_service_run(app)
    assert bool(_rows_naming(app, done.invocation_id)) is kept
    _orchestrator(app).close()


def test_under_sustained_load_the_file_size_levels_off(
    app: Pynenc, clock: time_machine.Traveller
) -> None:
    """Twelve hours of work on a two-hour retention period, the clock moved by steps of
    ten minutes: once the first invocations are older than the period, the file stops
    growing (pages freed by retention are reused or given back)."""
    path = Path(_orchestrator(app).sqlite_db_path)
    sizes = []
    for step in range(12 * 6):
        for n in range(SOAK_INVOCATIONS_PER_STEP):
            _finished(app, f"{step}-{n} " * (400 if n % 2 else 4))  # half of them large
        _atomic_service_run(app)
        clock.shift(600)
        if step % 6 == 5:
            sizes.append(sum(_size(Path(f"{path}{suffix}")) for suffix in ("", "-wal")))
    print(f"file size (bytes) per hour, {JOURNAL_MODE}: {sizes}")
    assert max(sizes[5:]) <= 1.25 * sizes[3], sizes
    stored = app.orchestrator.count_invocations()
    assert stored <= (PERIOD_HOURS + 1) * 6 * SOAK_INVOCATIONS_PER_STEP, stored


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pynenc_sqlite *args`` in a process of its own."""
    command = [sys.executable, "-m", "pynenc_sqlite", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_cli_purge_removes_what_is_older_than_the_duration(
    app: Pynenc, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _finished(app, OWN)
    clock.shift(2 * 86400)
    recent = _finished(app, SHARED)
    path = _orchestrator(app).sqlite_db_path
    assert main(["--json", "purge", path, "--app", app.app_id, "--older-than", "1d"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "app_id": app.app_id,
        "invocations_removed": 1,
        "values_removed": 2,
        "runners_removed": 0,
        "pages_freed": ANY,
    }
    assert _rows_naming(app, old.invocation_id) == {}
    assert app.state_backend.get_result(recent.invocation_id) == SHARED.upper()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--app", "elsewhere", "--older-than", "1d"], "has no app 'elsewhere'. Give one of"),
        (["--app", "retention-app", "--older-than", "1 day"], "'1 day' is not a duration"),
    ],
)
def test_cli_purge_refuses_an_unknown_app_or_duration(
    app: Pynenc, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    _finished(app, OWN)
    try:
        code = main(["purge", _orchestrator(app).sqlite_db_path, *args])
    except SystemExit as exit_:  # argparse refuses the duration
        code = int(exit_.code or 0)
    assert code == 2
    assert error in capsys.readouterr().err
    assert app.orchestrator.count_invocations() == 1


def test_cli_vacuum_gives_an_older_file_incremental_vacuum(tmp_path: Path) -> None:
    """A file created before retention has no incremental vacuum: its freed pages stay
    in the file until ``vacuum`` (every process stopped) rebuilds it."""
    path = tmp_path / "older.sqlite3"
    code = (
        "import sys\n"
        "from pynenc.builder import PynencBuilder\n"
        "from pynenc_contract import kit, tasks\n"
        f"app = PynencBuilder().app_id('older').sqlite_stack({str(path)!r}, "
        f"journal_mode={JOURNAL_MODE!r}).build()\n"
        "echo = kit.task(app, tasks.echo)\n"
        "if sys.argv[1] == 'fill':\n"
        "    for n in range(200): echo(f'{n} ' * 1000)\n"
        "else:\n"
        "    app.orchestrator.purge(); app.state_backend.purge(); app.client_data_store.purge()\n"
    )
    subprocess.run([sys.executable, "-c", code, "fill"], check=True, timeout=120)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA auto_vacuum = NONE")  # as an earlier pynenc-sqlite made it
        conn.execute("VACUUM")
    subprocess.run([sys.executable, "-c", code, "purge"], check=True, timeout=120)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (0,)
        (free_pages,) = conn.execute("PRAGMA freelist_count").fetchone()
    assert free_pages > 100
    vacuumed = _cli("--json", "vacuum", str(path))
    assert vacuumed.returncode == 0, vacuumed.stderr
    report = json.loads(vacuumed.stdout)
    assert report["bytes_before"] - report["bytes_after"] >= free_pages * 4096 * 0.9
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (INCREMENTAL,)
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_cli_vacuum_is_refused_while_a_process_uses_the_file(app: Pynenc) -> None:
    path = _orchestrator(app).sqlite_db_path
    size = Path(path).stat().st_size
    refused = _cli("vacuum", path)
    assert refused.returncode == 2
    assert "is in use by another process" in refused.stderr
    assert "Stop every process that uses it, then vacuum it" in refused.stderr
    assert Path(path).stat().st_size == size

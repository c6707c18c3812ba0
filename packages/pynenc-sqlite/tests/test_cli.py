"""``pynenc-sqlite``: a look inside a database, never a change to it."""

import json
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from pynenc.builder import PynencBuilder
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit, tasks
from pynenc_sqlite.cli import main
from pynenc_sqlite.exceptions import DatabaseFileError
from pynenc_sqlite.schema import SCHEMA_VERSION


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A stack database in truncate mode: app "shop" with 3 invocations queued."""
    path = tmp_path / "shop.sqlite3"
    app = PynencBuilder().app_id("shop").sqlite_stack(str(path), journal_mode="truncate").build()
    add = kit.task(app, tasks.add)
    for x in range(3):
        add(x, 1)
    app.orchestrator.close()
    return path


def _printed(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What ``pynenc-sqlite *args`` prints, once it succeeded."""
    assert main(list(args)) == 0
    return capsys.readouterr().out


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    return json.loads(_printed(capsys, "--json", *args))


def _rows(printed: str) -> list[list[str]]:
    """The rows of the tables in ``printed``, cell by cell (a value that rich folds over
    several lines, as an id in a narrow column, is joined again)."""
    rows: list[list[str]] = []
    for line in printed.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells[0] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [kept + more for kept, more in zip(rows[-1], cells, strict=True)]
    return rows


def test_info_shows_the_file_its_settings_and_each_apps_rows(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = database.read_bytes()
    found = _json(capsys, "info", str(database))
    assert isinstance(found, dict)
    assert (found["path"], found["journal_mode"], found["file_header"]) == (
        str(database),
        "truncate",
        "rollback",
    )
    assert found["schema_version"] == SCHEMA_VERSION
    assert found["file_bytes"] == database.stat().st_size
    (shop,) = found["apps"]
    assert (shop["app_id"], shop["invocations"], shop["queued"], shop["results"]) == (
        "shop",
        3,
        3,
        0,
    )
    assert database.read_bytes() == before


def test_check_passes_on_a_sound_file_and_fails_on_a_damaged_one(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = _json(capsys, "check", str(database))
    assert isinstance(checks, list)
    assert [(row["check"], row["ok"]) for row in checks] == [
        ("integrity", True),
        ("schema", True),
        ("journal mode", True),
    ]
    with closing(sqlite3.connect(database)) as raw:  # the header says WAL, the record not
        raw.execute("PRAGMA journal_mode=wal")
    assert main(["check", str(database)]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_queues_and_invocations_list_what_waits(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _json(capsys, "queues", str(database)) == [
        {"app_id": "shop", "queue": "default", "messages": 3}
    ]
    routed = _json(capsys, "invocations", "--status", "REGISTERED", "--limit", "2", str(database))
    assert isinstance(routed, list)
    assert [(row["app_id"], row["status"]) for row in routed] == [("shop", "registered")] * 2
    assert _json(capsys, "invocations", "--app", "other", str(database)) == []


def test_an_unknown_status_is_refused_with_the_statuses_to_give(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["invocations", "--status", "sucess", str(database)])
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert "'sucess' is not an invocation status; give one of registered," in error
    assert "success" in error


def test_the_tables_show_each_commands_rows(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _rows(_printed(capsys, "queues", str(database))) == [["shop", "default", "3"]]
    found = _json(capsys, "invocations", str(database))
    assert isinstance(found, list)
    listed = _rows(_printed(capsys, "invocations", str(database)))
    assert [(row[0], row[1], row[3]) for row in listed] == [
        ("shop", row["invocation_id"], "registered") for row in found
    ]
    assert _printed(capsys, "invocations", "--app", "other", str(database)) == (
        "No invocation matches.\n"
    )
    copy = tmp_path / "copy.sqlite3"
    copied = _rows(_printed(capsys, "backup", str(database), str(copy)))
    assert [row[0] for row in copied] == ["backup", "pages", "bytes", "integrity"]
    assert (copied[0][1], copied[2][1], copied[3][1]) == (str(copy), str(copy.stat().st_size), "ok")


def test_a_database_no_app_has_used_yet_shows_empty_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new file (a process creates it before its tables): shown empty, not an error."""
    path = tmp_path / "new.sqlite3"
    path.touch()
    found = _json(capsys, "info", str(path))
    assert isinstance(found, dict)
    assert (found["journal_mode"], found["schema_version"], found["apps"]) == (
        "not recorded",
        0,
        [],
    )
    printed = _printed(capsys, "info", str(path))
    assert ["journal_mode", "not recorded"] in _rows(printed)
    assert printed.endswith("\nNo app has used this database yet.\n")
    assert _json(capsys, "queues", str(path)) == []
    assert json.loads(_printed(capsys, "queues", str(path), "--json")) == []  # after it too
    assert _printed(capsys, "queues", str(path)) == "No message is waiting.\n"
    assert _printed(capsys, "invocations", str(path)) == "No invocation matches.\n"
    assert _json(capsys, "invocations", "--stuck", str(path)) == []
    assert path.read_bytes() == b""


@pytest.mark.parametrize("command", [["journal-mode", "wal"], ["vacuum"]])
@pytest.mark.parametrize(
    ("made", "problem"),
    [
        ("missing", "does not exist. Give the path of the database file"),
        ("a directory", "is a directory. Give the path of the database file"),
        ("a text file", "cannot be read as SQLite (file is not a database)"),
    ],
)
def test_a_change_of_a_path_that_is_no_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], made: str, problem: str
) -> None:
    path = tmp_path / "target"
    if made == "a directory":
        path.mkdir()
    elif made == "a text file":
        path.write_text("not a database\n" * 100)
    assert main([*command, str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert problem in line


@pytest.mark.parametrize("command", [["journal-mode", "wal"], ["vacuum"]])
def test_a_change_waits_for_no_program_that_reads_the_file(
    database: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A sqlite3 shell or a backup holds no pynenc-sqlite presence: the change is refused
    while it reads, and applies once it is done."""
    with closing(sqlite3.connect(database, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM orchestrator_apps").fetchone()
        assert main([*command, str(database)]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert "is open in another program (a sqlite3 shell, a backup" in line
        assert "Close it, then" in line
    assert main([*command, str(database)]) == 0


@pytest.mark.parametrize("destination", ["a file", "a directory", "in a missing directory"])
def test_a_backup_goes_only_to_a_new_file_in_an_existing_directory(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], destination: str
) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("kept\n")
    target = {
        "a file": kept,
        "a directory": tmp_path,
        "in a missing directory": tmp_path / "missing" / "copy.sqlite3",
    }[destination]
    before = sorted(tmp_path.rglob("*"))
    assert main(["backup", str(database), str(target)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"pynenc-sqlite: error: pynenc-sqlite database '{target}': ")
    assert {
        "a file": "exists already. Choose a new file for the backup, or remove it",
        "a directory": "exists already. Choose a new file for the backup, or remove it",
        "in a missing directory": "cannot be created (No such file or directory). Choose a "
        "path in an existing, writable directory",
    }[destination] in line
    assert sorted(tmp_path.rglob("*")) == before
    assert kept.read_text() == "kept\n"


@pytest.mark.parametrize("make", ["missing", "text", "foreign"])
def test_a_file_that_is_not_ours_is_one_line_and_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    path = tmp_path / "file.sqlite3"
    if make == "text":
        path.write_text("not a database\n" * 100)
    elif make == "foreign":
        with closing(sqlite3.connect(path)) as raw:
            raw.execute("CREATE TABLE users (name TEXT)")
    before = path.read_bytes() if path.exists() else None
    assert main(["info", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("pynenc-sqlite: error: ")
    assert {
        "missing": "does not exist",
        "text": "cannot be read as SQLite",
        "foreign": ("another program"),
    }[make] in line
    assert (path.read_bytes() if path.exists() else None) == before


def test_the_module_runs_as_the_command(database: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pynenc_sqlite", "info", str(database)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "shop" in done.stdout
    assert "truncate" in done.stdout


#: A writer process: invocations run to SUCCESS as pynenc's runners store them (the
#: result, then the status), until the stop file appears.
WRITER = """
import sys
from pathlib import Path
from pynenc.builder import PynencBuilder
from pynenc.invocation.status import InvocationStatus
from pynenc.runner.runner_context import RunnerContext
from pynenc_contract import kit

path, stop, started = (Path(arg) for arg in sys.argv[1:4])
app = PynencBuilder().app_id("shop").sqlite_stack(str(path), journal_mode="wal").build()
context = RunnerContext("BackupWriter", runner_id=kit.OWNER)
while not stop.exists():
    (invocation,) = kit.invocations(app, 1)
    kit.walk(app, invocation.invocation_id, kit.path_to(InvocationStatus.RUNNING))
    app.orchestrator.set_invocation_result(invocation, "done", context)
    started.touch()
"""


@contextmanager
def _running(script: str, path: Path) -> Iterator["subprocess.Popen[bytes]"]:
    """A process running ``script`` on ``path``, once it says it has written; told to
    stop (a stop file) and waited for when the block ends."""
    stop, started = path.with_name("stop"), path.with_name("started")
    process = subprocess.Popen([sys.executable, "-c", script, str(path), str(stop), str(started)])
    deadline = time.monotonic() + 60
    while not started.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the process never wrote (exit {process.wait()})")
        time.sleep(0.05)
    try:
        yield process
    finally:
        stop.touch()
        process.wait(timeout=60)


def _successes_without_result(copy: Path) -> tuple[int, int]:
    """SUCCESS invocations in ``copy``, and how many of them have no stored result."""
    with closing(sqlite3.connect(copy)) as raw:
        ((successes, missing),) = raw.execute(
            "SELECT COUNT(*), SUM(r.invocation_id IS NULL) FROM orchestrator_invocations i "
            "LEFT JOIN state_results r ON r.app_key = i.app_key "
            "AND r.invocation_id = i.invocation_id AND r.kind = 'result' "
            "WHERE i.status = 'success'"
        ).fetchall()
    return int(successes), int(missing or 0)


@pytest.mark.timeout(120)
def test_a_backup_while_a_process_writes_is_sound_and_consistent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "live.sqlite3"
    copies = [tmp_path / f"copy-{index}.sqlite3" for index in range(3)]
    with _running(WRITER, path) as writer:
        for copy in copies:
            found = _json(capsys, "backup", str(path), str(copy))
            assert isinstance(found, dict)
            assert found["integrity"] == "ok"
            assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert writer.returncode == 0
    for copy in copies:
        successes, missing = _successes_without_result(copy)
        assert successes > 0, copy.name
        assert missing == 0, f"{copy.name}: {missing} of {successes} SUCCESS without result"
    assert main(["backup", str(path), str(copies[0])]) == 2  # never overwritten
    assert "exists already" in capsys.readouterr().err


def test_stuck_lists_what_recovery_should_reach_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: kit.Clock
) -> None:
    path = tmp_path / "stuck.sqlite3"
    app = PynencBuilder().app_id("shop").sqlite_stack(str(path)).build()
    orphan, alive, waiting, unseen = kit.registered(app, 4)
    app.orchestrator.register_runner_heartbeats([kit.OWNER])
    kit.walk(app, orphan, kit.path_to(InvocationStatus.RUNNING))
    clock.shift(19 * 60)
    kit.walk(app, waiting, kit.path_to(InvocationStatus.PENDING))
    clock.shift(60)
    app.orchestrator.register_runner_heartbeats([kit.OTHER])
    for invocation_id, runner in ((alive, kit.OTHER), (unseen, "runner-unseen")):
        for status in kit.path_to(InvocationStatus.RUNNING):
            app.orchestrator._atomic_status_transition(invocation_id, status, runner)
    found = _json(capsys, "invocations", "--stuck", str(path))
    assert isinstance(found, list)
    why = {row["invocation_id"]: row["why"] for row in found}
    assert set(why) == {orphan, waiting, unseen}
    assert why[orphan].startswith(f"its owner {kit.OWNER} was last seen 20.")
    assert why[waiting].startswith("pending for 6")
    assert why[unseen] == "its owner runner-unseen has no heartbeat"
    assert _json(capsys, "invocations", "--stuck", "--dead-after-minutes", "30", str(path)) == [
        row for row in found if row["invocation_id"] in (waiting, unseen)
    ]


#: A process that opens the stack in truncate mode and keeps it until the stop file.
HOLDER = """
import sys, time
from pathlib import Path
from pynenc.builder import PynencBuilder
from pynenc_contract import kit

path, stop, started = (Path(arg) for arg in sys.argv[1:4])
app = PynencBuilder().app_id("shop").sqlite_stack(str(path), journal_mode="truncate").build()
kit.registered(app, 1)
started.touch()
while not stop.exists():
    time.sleep(0.02)
"""


@pytest.mark.timeout(120)
def test_the_journal_mode_changes_only_with_every_process_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "held.sqlite3"
    with _running(HOLDER, path):
        assert main(["journal-mode", "wal", str(path)]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert "is in use by another process" in line
        assert "Stop every process that uses it" in line
    assert _json(capsys, "info", str(path))["journal_mode"] == "truncate"  # type: ignore[index]
    assert _json(capsys, "journal-mode", "wal", str(path)) == {
        "path": str(path),
        "before": "truncate",
        "after": "wal",
    }
    found = _json(capsys, "info", str(path))
    assert isinstance(found, dict)
    assert (found["journal_mode"], found["file_header"]) == ("wal", "wal")
    again = _printed(capsys, "journal-mode", "wal", str(path))  # nothing left to change
    assert "journal mode wal -> wal; start every process with journal_mode 'wal'" in " ".join(
        again.split()
    )
    stale = PynencBuilder().app_id("shop").sqlite_stack(str(path), journal_mode="truncate")
    with pytest.raises(DatabaseFileError, match="recorded in the file"):
        stale.build().orchestrator.count_invocations()
    app = PynencBuilder().app_id("shop").sqlite_stack(str(path), journal_mode="wal").build()
    assert app.orchestrator.count_invocations() == 1

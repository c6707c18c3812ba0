"""``pynenc-sqlite`` (or ``python -m pynenc_sqlite``): a look inside a database, and
its backup.

Every command reads the file without changing it (``backup`` writes only the new
copy), but ``journal-mode``, which needs every process stopped: tables for people,
``--json`` for scripts.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pynenc_sqlite import inspection
from pynenc_sqlite.conf.config_database import JournalMode
from pynenc_sqlite.database import change_journal_mode
from pynenc_sqlite.exceptions import DatabaseFileError


def _table(title: str, rows: Sequence[dict[str, Any]], empty: str) -> Table | str:
    """A rich table of ``rows`` (their keys are the columns); ``empty`` when none."""
    if not rows:
        return empty
    table = Table(title=title, title_justify="left")
    for column in rows[0]:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    return table


def _show_info(found: dict[str, Any], console: Console) -> None:
    settings = [{"setting": k, "value": v} for k, v in found.items() if k != "apps"]
    console.print(_table("Database", settings, ""))
    console.print(_table("Apps", found["apps"], "No app has used this database yet."))


def _show_check(found: list[dict[str, Any]], console: Console) -> None:
    rows = [{**row, "ok": "ok" if row["ok"] else "FAILED"} for row in found]
    console.print(_table("Checks", rows, ""))


def parser() -> argparse.ArgumentParser:
    """The command line of ``pynenc-sqlite``."""
    main = argparse.ArgumentParser(
        prog="pynenc-sqlite", description="A look inside a pynenc-sqlite database."
    )
    main.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = main.add_subparsers(dest="command", required=True)
    for name, text in (
        ("info", "path, journal mode, schema version, sizes and each app's rows"),
        ("check", "integrity, schema version and journal mode; exit 1 when one fails"),
        ("queues", "messages waiting, per app and queue"),
    ):
        commands.add_parser(name, help=text).add_argument("path", type=Path)
    copied = commands.add_parser(
        "backup", help="copy the database to a new file with SQLite's online backup"
    )
    copied.add_argument("path", type=Path)
    copied.add_argument("destination", type=Path, help="a new file (never overwritten)")
    switched = commands.add_parser(
        "journal-mode",
        help="switch the database to another journal mode (every process stopped)",
    )
    switched.add_argument("mode", choices=[mode.value for mode in JournalMode])
    switched.add_argument("path", type=Path)
    listed = commands.add_parser(
        "invocations", help="invocations, the longest in their status first"
    )
    listed.add_argument("path", type=Path)
    listed.add_argument(
        "--status", action="append", default=[], help="only this status (repeat for more)"
    )
    listed.add_argument("--app", help="only this app id")
    listed.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listed.add_argument(
        "--stuck",
        action="store_true",
        help="only those recovery should reach: RUNNING of a runner without a recent "
        "heartbeat, PENDING for too long",
    )
    listed.add_argument(
        "--dead-after-minutes",
        type=float,
        default=10.0,
        help="with --stuck: a runner is dead after this long without a heartbeat "
        "(your runner_considered_dead_after_minutes; pynenc's default 10)",
    )
    listed.add_argument(
        "--pending-seconds",
        type=float,
        default=5.0,
        help="with --stuck: PENDING for longer than this (your max_pending_seconds; "
        "pynenc's default 5)",
    )
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 1 when a check (or the backup's) fails, 2 on a
    usage error."""
    args = parser().parse_args(argv)
    console = Console()
    if args.command == "journal-mode":
        return _change_journal_mode(args.path, JournalMode(args.mode), args.json, console)
    try:
        with inspection.open_read_only(args.path) as conn:
            found: Any
            if args.command == "info":
                found = inspection.info(conn, args.path)
            elif args.command == "check":
                found = inspection.check(conn, args.path)
            elif args.command == "queues":
                found = inspection.queues(conn)
            elif args.command == "backup":
                found = inspection.backup(conn, args.destination)
            elif args.stuck:
                found = inspection.stuck(
                    conn, args.dead_after_minutes, args.pending_seconds, args.app
                )[: args.limit]
            else:
                found = inspection.invocations(conn, args.status, args.app, args.limit)
    except DatabaseFileError as error:
        print(f"pynenc-sqlite: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(found, indent=1))
    elif args.command == "info":
        _show_info(found, console)
    elif args.command == "check":
        _show_check(found, console)
    elif args.command == "queues":
        console.print(_table("Queues", found, "No message is waiting."))
    elif args.command == "backup":
        console.print(_table("Backup", [{"item": k, "value": v} for k, v in found.items()], ""))
    else:
        console.print(_table("Invocations", found, "No invocation matches."))
    failed = (args.command == "check" and not all(row["ok"] for row in found)) or (
        args.command == "backup" and found["integrity"] != "ok"
    )
    return 1 if failed else 0


def _change_journal_mode(path: Path, mode: JournalMode, as_json: bool, console: Console) -> int:
    """``journal-mode``: the one command that changes the database (not its data)."""
    try:
        before = change_journal_mode(path, mode)
    except DatabaseFileError as error:
        print(f"pynenc-sqlite: error: {error}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({"path": str(path), "before": before, "after": mode.value}))
    else:
        console.print(
            f"{path}: journal mode {before} -> {mode.value}; start every process with "
            f"journal_mode {mode.value!r}"
        )
    return 0


def entry_point() -> None:
    """Console script ``pynenc-sqlite``."""
    sys.exit(main())

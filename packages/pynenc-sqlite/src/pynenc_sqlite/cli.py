"""``pynenc-sqlite`` (or ``python -m pynenc_sqlite``): a look inside a database, its
backup, retention and maintenance.

Most commands read the file without changing it (``backup`` writes only the new
copy). ``purge`` removes final invocations while other processes go on;
``journal-mode`` and ``vacuum`` need every process stopped. Tables for people,
``--json`` for scripts.
"""

import argparse
import json
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pynenc.invocation.status import InvocationStatus
from rich.console import Console
from rich.table import Table

from pynenc_sqlite import inspection
from pynenc_sqlite.conf.config_database import JournalMode
from pynenc_sqlite.database import change_journal_mode, recorded_journal_mode, vacuum
from pynenc_sqlite.exceptions import DatabaseFileError
from pynenc_sqlite.retention import purge_app

#: Seconds per unit of a duration such as ``30d``.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> float:
    """Seconds in a duration such as ``90m``, ``12h``, ``30d`` or ``2w``."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not found:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; give a number and a unit (s, m, h, d or w), "
            "such as 30d or 12h"
        )
    return float(found[1]) * _UNITS[found[2]]


def invocation_status(text: str) -> str:
    """An invocation status such as ``running`` or ``SUCCESS`` (any case)."""
    statuses = [status.value for status in InvocationStatus]
    if text.lower() not in statuses:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an invocation status; give one of {', '.join(statuses)}"
        )
    return text.lower()


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


def parser() -> argparse.ArgumentParser:
    """The command line of ``pynenc-sqlite``."""
    main = argparse.ArgumentParser(
        prog="pynenc-sqlite",
        description="A look inside a pynenc-sqlite database, its backup, retention and upkeep.",
    )
    main.add_argument("--json", action="store_true", help="print JSON instead of tables")
    # --json is taken after the command too (without overriding one given before it)
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON instead of tables",
    )
    subparsers = main.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, help=text, parents=[after])

    for name, text in (
        ("info", "path, journal mode, schema version, sizes and each app's rows"),
        ("check", "integrity, schema version and journal mode; exit 1 when one fails"),
        ("queues", "messages waiting, per app and queue"),
    ):
        command(name, text).add_argument("path", type=Path)
    copied = command("backup", "copy the database to a new file with SQLite's online backup")
    copied.add_argument("path", type=Path)
    copied.add_argument("destination", type=Path, help="a new file (never overwritten)")
    purged = command(
        "purge",
        "remove an app's final invocations older than a duration, with everything "
        "stored about them (other processes may go on)",
    )
    purged.add_argument("path", type=Path)
    purged.add_argument("--app", required=True, help="the app id")
    purged.add_argument(
        "--older-than",
        type=duration,
        required=True,
        help="final for longer than this: a number and a unit (s, m, h, d, w), as 30d",
    )
    command(
        "vacuum",
        "rebuild the file without its free pages, with incremental vacuum from then "
        "on (every process stopped)",
    ).add_argument("path", type=Path)
    switched = command(
        "journal-mode",
        "switch the database to another journal mode (every process stopped)",
    )
    switched.add_argument("mode", choices=[mode.value for mode in JournalMode])
    switched.add_argument("path", type=Path)
    listed = command("invocations", "invocations, the longest in their status first")
    listed.add_argument("path", type=Path)
    listed.add_argument(
        "--status",
        action="append",
        default=[],
        type=invocation_status,
        help="only this status, such as running (repeat for more)",
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
    found: Any
    try:
        if args.command == "journal-mode":
            before = change_journal_mode(args.path, JournalMode(args.mode))
            found = {"path": str(args.path), "before": before, "after": args.mode}
        elif args.command == "vacuum":
            before_bytes, after_bytes = vacuum(args.path)
            found = {
                "path": str(args.path),
                "bytes_before": before_bytes,
                "bytes_after": after_bytes,
            }
        elif args.command == "purge":
            found = _purge(args.path, args.app, args.older_than)
        else:
            with inspection.open_read_only(args.path) as conn:
                found = _read(args, conn)
    except DatabaseFileError as error:
        print(f"pynenc-sqlite: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(found, indent=1))
    else:
        _print(args.command, found, Console())
    failed = (args.command == "check" and not all(row["ok"] for row in found)) or (
        args.command == "backup" and found["integrity"] != "ok"
    )
    return 1 if failed else 0


def _read(args: argparse.Namespace, conn: sqlite3.Connection) -> Any:
    """What a command that only reads the file found."""
    if args.command == "info":
        return inspection.info(conn, args.path)
    if args.command == "check":
        return inspection.check(conn, args.path)
    if args.command == "queues":
        return inspection.queues(conn)
    if args.command == "backup":
        return inspection.backup(conn, args.destination)
    if args.stuck:
        stuck = inspection.stuck(conn, args.dead_after_minutes, args.pending_seconds, args.app)
        return stuck[: args.limit]
    return inspection.invocations(conn, args.status, args.app, args.limit)


def _print(command: str, found: Any, console: Console) -> None:
    """``found`` for people: tables, or a sentence."""
    if command == "info":
        settings = [{"setting": k, "value": v} for k, v in found.items() if k != "apps"]
        console.print(_table("Database", settings, ""))
        console.print(_table("Apps", found["apps"], "No app has used this database yet."))
    elif command == "check":
        rows = [{**row, "ok": "ok" if row["ok"] else "FAILED"} for row in found]
        console.print(_table("Checks", rows, ""))
    elif command == "queues":
        console.print(_table("Queues", found, "No message is waiting."))
    elif command == "invocations":
        console.print(_table("Invocations", found, "No invocation matches."))
    elif command == "journal-mode":
        console.print(
            f"{found['path']}: journal mode {found['before']} -> {found['after']}; start "
            f"every process with journal_mode {found['after']!r}"
        )
    else:
        items = [{"item": key, "value": value} for key, value in found.items()]
        console.print(_table(command.capitalize(), items, ""))


def _purge(path: Path, app_id: str, older_than_seconds: float) -> dict[str, Any]:
    """``purge``: refused for an app that is not in the file."""
    with inspection.open_read_only(path) as conn:
        apps = [known for _, known in inspection.apps(conn)]
        journal_mode = recorded_journal_mode(conn)
    if app_id not in apps:
        raise DatabaseFileError(
            path, f"has no app {app_id!r}", f"Give one of its apps: {', '.join(apps) or 'none'}"
        )
    if journal_mode is None:
        raise DatabaseFileError(
            path,
            "has no journal mode recorded (an earlier schema)",
            "Start and stop one process of the app with this pynenc-sqlite to migrate it",
        )
    purged = purge_app(path, journal_mode, app_id, older_than_seconds)
    return {
        "app_id": app_id,
        "invocations_removed": purged.invocations,
        "values_removed": purged.values,
        "runners_removed": purged.runners,
        "pages_freed": purged.pages_freed,
    }


def entry_point() -> None:
    """Console script ``pynenc-sqlite``."""
    sys.exit(main())

"""Migration 7: a database of schema 6 keeps its history entries and, from then on,
keeps every entry, those with the same time and status as an earlier one included."""

import contextlib
import json
import sqlite3
from pathlib import Path

from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.state_backend.base_state_backend import InvocationHistory

from pynenc_sqlite import SCHEMA_VERSION
from pynenc_sqlite.contract import STACK, STACK_FILE
from pynenc_sqlite.schema import MIGRATIONS, StateTables, Tables

APP_ID = "old-app"
INVOCATION = InvocationId("kept")


def _entry(status: InvocationStatus, ts: float) -> tuple[int, str, float, str, str]:
    """A history row as schema 6 stored it."""
    history = InvocationHistory(INVOCATION, InvocationStatusRecord(status), "runner-old")
    stored = {**json.loads(history.to_json()), "_timestamp": f"1970-01-01T00:00:{ts:02.0f}+00:00"}
    return 1, INVOCATION, ts, status.value, json.dumps(stored)


def test_schema_6_history_is_kept_and_equal_entries_are_kept_after(tmp_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / STACK_FILE)) as raw, raw:
        for statements in MIGRATIONS[:6]:
            for statement in statements:
                raw.execute(statement)
        raw.execute("PRAGMA user_version=6")
        raw.execute(f"INSERT INTO {Tables.APPS} (app_id) VALUES (?)", (APP_ID,))
        raw.executemany(
            f"INSERT INTO {StateTables.HISTORY} (app_key, invocation_id, ts, status, entry) "
            "VALUES (?, ?, ?, ?, ?)",
            [_entry(InvocationStatus.REGISTERED, 1), _entry(InvocationStatus.PENDING, 2)],
        )
    app = STACK.new_app(APP_ID, tmp_path)
    state = app.state_backend
    record = InvocationStatusRecord(InvocationStatus.RUNNING, "runner-new")
    first, second = (InvocationHistory(INVOCATION, record, "runner-new") for _ in range(2))
    second._timestamp = first.timestamp  # the same time and status
    for entry in (first, second):
        state._add_histories([INVOCATION], entry)
    statuses = [entry.status_record.status for entry in state.get_history(INVOCATION)]
    assert statuses[:2] == [InvocationStatus.REGISTERED, InvocationStatus.PENDING]
    assert statuses[2:] == [InvocationStatus.RUNNING, InvocationStatus.RUNNING]
    with contextlib.closing(sqlite3.connect(tmp_path / STACK_FILE)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION

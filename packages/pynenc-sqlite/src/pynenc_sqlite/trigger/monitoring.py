"""The trigger's monitoring records: events, trigger runs and their retention.

An event or a run is stored as pynenc's JSON with the columns its look-ups filter or
order by; the invocations an event triggered, and the events, source invocations and
valid conditions a run names, are rows of their own, so that every look-up is one
indexed query.
"""

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pynenc.trigger.monitoring import EventMarker, EventMarkerPage, EventRecord, TriggerRunRecord

from pynenc_sqlite.rows import AppRows, epoch, placeholders, utc
from pynenc_sqlite.schema import TriggerTables

if TYPE_CHECKING:
    import sqlite3

    from pynenc.app import Pynenc
    from pynenc.conf.config_trigger import ConfigTrigger

G = TriggerTables
_RUN_ORDER = "ORDER BY r.executed_at, r.trigger_run_id"
#: ``state`` of an event-marker page: the condition each one adds.
_MARKER_STATES = {
    "all": "",
    "matched": " AND matched > 0",
    "unmatched": " AND matched = 0",
    "triggered": " AND triggered > 0",
    "untriggered": " AND triggered = 0",
}


class MonitoringRecords:
    """The monitoring part of :class:`~pynenc_sqlite.PynencSQLiteTrigger`."""

    app: "Pynenc"
    rows: AppRows

    if TYPE_CHECKING:

        @property
        def conf(self) -> "ConfigTrigger": ...

    # -- events ---------------------------------------------------------------
    def store_event(self, event: EventRecord) -> None:
        """Store or replace ``event``; invocations it lists are linked to it."""
        key = self.rows.app_key
        event_json = event.to_json(self.app)  # may store payload values: before the lock

        def store(tx: sqlite3.Connection) -> None:
            tx.executemany(
                f"INSERT OR IGNORE INTO {G.EVENT_INVOCATIONS} "
                "(app_key, event_id, invocation_id) VALUES (?, ?, ?)",
                [
                    (key, event.event_id, invocation_id)
                    for invocation_id in event.triggered_invocation_ids
                ],
            )
            tx.execute(
                f"""INSERT OR REPLACE INTO {G.EVENTS} (app_key, event_id, event_code, ts,
                        matched, triggered, emitted_by_invocation_id, emitted_by_task_id,
                        emitted_by_runner_context_id, event_json)
                    VALUES (?, ?, ?, ?, ?, (SELECT COUNT(*) FROM {G.EVENT_INVOCATIONS}
                        WHERE app_key = ? AND event_id = ?), ?, ?, ?, ?)""",
                (
                    key,
                    event.event_id,
                    event.event_code,
                    epoch(event.timestamp),
                    len(event.matched_condition_ids),
                    key,
                    event.event_id,
                    event.emitted_by_invocation_id,
                    event.emitted_by_task_id,
                    event.emitted_by_runner_context_id,
                    event_json,
                ),
            )

        self.rows.database.transact(store)

    def get_event(self, event_id: str) -> EventRecord | None:
        return self.get_events_batch([event_id])[event_id]

    def get_events_batch(self, event_ids: Sequence[str]) -> dict[str, EventRecord | None]:
        """The event of each id (None for an unknown one), in one query."""
        events: dict[str, EventRecord | None] = dict.fromkeys(event_ids)
        if event_ids:
            events.update(
                (event.event_id, event)
                for event in self._events(f"event_id IN ({placeholders(event_ids)})", event_ids, "")
            )
        return events

    def get_events(
        self,
        *,
        event_code: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        matched: bool | None = None,
        triggered: bool | None = None,
        emitted_by_invocation_id: str | None = None,
        emitted_by_task_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[EventRecord]:
        """Events matching every filter given, newest first."""
        where, params = _event_filter(
            event_code=event_code,
            start_time=start_time,
            end_time=end_time,
            matched=matched,
            triggered=triggered,
            emitted_by_invocation_id=emitted_by_invocation_id,
            emitted_by_task_id=emitted_by_task_id,
        )
        return self._events(where, [*params, limit, offset], "ORDER BY ts DESC LIMIT ? OFFSET ?")

    def count_events(
        self,
        *,
        event_code: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        matched: bool | None = None,
        triggered: bool | None = None,
        emitted_by_invocation_id: str | None = None,
        emitted_by_task_id: str | None = None,
    ) -> int:
        """How many events ``get_events`` would find without a limit."""
        where, params = _event_filter(
            event_code=event_code,
            start_time=start_time,
            end_time=end_time,
            matched=matched,
            triggered=triggered,
            emitted_by_invocation_id=emitted_by_invocation_id,
            emitted_by_task_id=emitted_by_task_id,
        )
        ((count,),) = self.rows.fetch(
            f"SELECT COUNT(*) FROM {G.EVENTS} WHERE app_key = ? AND {where}",
            (self.rows.app_key, *params),
        )
        return int(count)

    def _events(self, where: str, params: Sequence[object], tail: str) -> list[EventRecord]:
        """The events matching ``where``, each with the invocations it triggered."""
        key = self.rows.app_key
        found = self.rows.fetch(
            f"""SELECT e.event_json, (SELECT json_group_array(invocation_id) FROM
                    (SELECT invocation_id FROM {G.EVENT_INVOCATIONS} i
                        WHERE i.app_key = e.app_key AND i.event_id = e.event_id
                        ORDER BY i.seq))
                FROM {G.EVENTS} e WHERE app_key = ? AND {where} {tail}""",
            (key, *params),
        )
        events = []
        for event_json, invocations in found:
            event = EventRecord.from_json(event_json, self.app)
            event.triggered_invocation_ids = _json_list(invocations)
            events.append(event)
        return events

    def get_event_markers_in_timerange(
        self,
        start_time: datetime,
        end_time: datetime,
        *,
        event_code: str | None = None,
        state: str = "all",
        limit: int = 1000,
        offset: int = 0,
    ) -> EventMarkerPage:
        """A page of markers of the events in the window, oldest first.

        :raises ValueError: ``state`` is not all, matched, unmatched, triggered or
            untriggered.
        """
        if state not in _MARKER_STATES:
            raise ValueError(
                f"event marker state {state!r} is not known: choose one of "
                f"{', '.join(_MARKER_STATES)}"
            )
        where, params = _event_filter(
            event_code=event_code, start_time=start_time, end_time=end_time
        )
        where += _MARKER_STATES[state]
        key = self.rows.app_key
        ((total,),) = self.rows.fetch(
            f"SELECT COUNT(*) FROM {G.EVENTS} WHERE app_key = ? AND {where}", (key, *params)
        )
        markers = [
            EventMarker(
                event_id=event_id,
                event_code=code,
                timestamp=utc(ts),
                matched=matched > 0,
                triggered=triggered > 0,
                emitted_by_invocation_id=invocation,
                emitted_by_runner_context_id=runner_context,
            )
            for event_id, code, ts, matched, triggered, invocation, runner_context in (
                self.rows.fetch(
                    f"""SELECT event_id, event_code, ts, matched, triggered,
                            emitted_by_invocation_id, emitted_by_runner_context_id
                        FROM {G.EVENTS} WHERE app_key = ? AND {where}
                        ORDER BY ts, event_id LIMIT ? OFFSET ?""",
                    (key, *params, limit, offset),
                )
            )
        ]
        return EventMarkerPage(
            markers=markers, total=int(total), truncated=offset + len(markers) < total
        )

    def link_trigger_run_to_events(
        self, event_ids: list[str], invocation_id: str, *, trigger_run_id: str
    ) -> None:
        """Link ``invocation_id`` to each event, in one transaction."""
        key = self.rows.app_key

        def link(tx: sqlite3.Connection) -> None:
            for event_id in event_ids:
                if tx.execute(
                    f"INSERT OR IGNORE INTO {G.EVENT_INVOCATIONS} "
                    "(app_key, event_id, invocation_id, trigger_run_id) VALUES (?, ?, ?, ?)",
                    (key, event_id, invocation_id, trigger_run_id),
                ).rowcount:
                    tx.execute(
                        f"UPDATE {G.EVENTS} SET triggered = triggered + 1 "
                        "WHERE app_key = ? AND event_id = ?",
                        (key, event_id),
                    )

        self.rows.database.transact(link)

    def get_invocations_triggered_by_event(self, event_id: str) -> list[str]:
        return [
            invocation_id
            for (invocation_id,) in self.rows.fetch(
                f"SELECT invocation_id FROM {G.EVENT_INVOCATIONS} "
                "WHERE app_key = ? AND event_id = ? ORDER BY seq",
                (self.rows.app_key, event_id),
            )
        ]

    def list_event_codes(self) -> list[str]:
        return [
            code
            for (code,) in self.rows.fetch(
                f"SELECT DISTINCT event_code FROM {G.EVENTS} WHERE app_key = ? ORDER BY event_code",
                (self.rows.app_key,),
            )
        ]

    # -- trigger runs ---------------------------------------------------------
    def store_trigger_run(self, run: TriggerRunRecord) -> None:
        """Store or replace ``run`` and its links."""
        key = self.rows.app_key

        def store(tx: sqlite3.Connection) -> None:
            tx.execute(
                f"""INSERT OR REPLACE INTO {G.RUNS} (app_key, trigger_run_id, task_id,
                        executed_at, claimed_at, triggered_invocation_id,
                        atomic_service_run_id, run_json)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    key,
                    run.trigger_run_id,
                    run.task_id_key,
                    None if run.executed_at is None else epoch(run.executed_at),
                    None if run.claimed_at is None else epoch(run.claimed_at),
                    run.triggered_invocation_id,
                    run.atomic_service_run_id,
                    run.to_json(),
                ),
            )
            tx.execute(
                f"DELETE FROM {G.RUN_LINKS} WHERE app_key = ? AND trigger_run_id = ?",
                (key, run.trigger_run_id),
            )
            tx.executemany(
                f"INSERT OR IGNORE INTO {G.RUN_LINKS} (app_key, trigger_run_id, kind, ref) "
                "VALUES (?, ?, ?, ?)",
                [(key, run.trigger_run_id, kind, ref) for kind, ref in _links(run)],
            )

        self.rows.database.transact(store)

    def get_trigger_run(self, trigger_run_id: str) -> TriggerRunRecord | None:
        return self.get_trigger_runs_batch([trigger_run_id])[trigger_run_id]

    def get_trigger_runs_batch(self, run_ids: Sequence[str]) -> dict[str, TriggerRunRecord | None]:
        """The trigger run of each id (None for an unknown one), in one query."""
        runs: dict[str, TriggerRunRecord | None] = dict.fromkeys(run_ids)
        if run_ids:
            runs.update(
                (run.trigger_run_id, run)
                for run in self._runs(f"r.trigger_run_id IN ({placeholders(run_ids)})", run_ids)
            )
        return runs

    def get_trigger_runs_for_event(self, event_id: str) -> list[TriggerRunRecord]:
        return self._linked_runs("event", event_id)

    def get_trigger_runs_sourced_by_invocation(self, invocation_id: str) -> list[TriggerRunRecord]:
        return self._linked_runs("source", invocation_id)

    def get_trigger_runs_for_valid_condition(
        self, valid_condition_id: str
    ) -> list[TriggerRunRecord]:
        return self._linked_runs("valid", valid_condition_id)

    def get_trigger_runs_for_invocation(self, invocation_id: str) -> list[TriggerRunRecord]:
        return self._runs("r.triggered_invocation_id = ?", [invocation_id])

    def get_trigger_runs_in_timerange(
        self,
        start_time: datetime,
        end_time: datetime,
        *,
        event_code: str | None = None,
        task_id_key: str | None = None,
        limit: int | None = None,
    ) -> list[TriggerRunRecord]:
        """Runs executed in the window, oldest first; with ``event_code``, only runs
        that name an event of that code."""
        where = "r.executed_at BETWEEN ? AND ?"
        params: list[object] = [epoch(start_time), epoch(end_time)]
        if task_id_key is not None:
            where += " AND r.task_id = ?"
            params.append(task_id_key)
        if event_code is not None:
            where += (
                f" AND r.trigger_run_id IN (SELECT l.trigger_run_id FROM {G.RUN_LINKS} l "
                f"JOIN {G.EVENTS} e ON e.app_key = l.app_key AND e.event_id = l.ref "
                "WHERE l.app_key = r.app_key AND l.kind = 'event' AND e.event_code = ?)"
            )
            params.append(event_code)
        return self._runs(where, params, limit)

    def get_referenced_atomic_service_run_ids(self) -> set[str]:
        """Atomic-service runs that a stored trigger run names."""
        return {
            run_id
            for (run_id,) in self.rows.fetch(
                f"SELECT DISTINCT atomic_service_run_id FROM {G.RUNS} "
                "WHERE app_key = ? AND atomic_service_run_id IS NOT NULL",
                (self.rows.app_key,),
            )
        }

    def _linked_runs(self, kind: str, ref: str) -> list[TriggerRunRecord]:
        return self._runs(
            f"r.trigger_run_id IN (SELECT trigger_run_id FROM {G.RUN_LINKS} "
            "WHERE app_key = r.app_key AND kind = ? AND ref = ?)",
            [kind, ref],
        )

    def _runs(
        self, where: str, params: Sequence[object], limit: int | None = None
    ) -> list[TriggerRunRecord]:
        """The runs matching ``where``, in order of execution."""
        tail = _RUN_ORDER if limit is None else f"{_RUN_ORDER} LIMIT {int(limit)}"
        return [
            TriggerRunRecord.from_json(run_json)
            for (run_json,) in self.rows.fetch(
                f"SELECT r.run_json FROM {G.RUNS} r WHERE r.app_key = ? AND {where} {tail}",
                (self.rows.app_key, *params),
            )
        ]

    # -- retention ------------------------------------------------------------
    def _age_purge_events(self, threshold: datetime) -> list[str]:
        return self._delete_events("ts < ?", (epoch(threshold),))

    def _cap_purge_events(self) -> list[str]:
        cap = int(self.conf.event_max_records)
        if cap <= 0:
            return []
        return self._delete_events(
            f"event_id IN (SELECT event_id FROM {G.EVENTS} WHERE app_key = ? "
            "ORDER BY ts DESC, event_id DESC LIMIT -1 OFFSET ?)",
            (self.rows.app_key, cap),
        )

    def _age_purge_trigger_runs(self, threshold: datetime) -> int:
        return self._delete_runs("executed_at < ?", (epoch(threshold),))

    def _cap_purge_trigger_runs(self) -> int:
        cap = int(self.conf.trigger_run_max_records)
        if cap <= 0:
            return 0
        return self._delete_runs(
            f"trigger_run_id IN (SELECT trigger_run_id FROM {G.RUNS} WHERE app_key = ? "
            "ORDER BY COALESCE(executed_at, claimed_at, 0) DESC, trigger_run_id DESC "
            "LIMIT -1 OFFSET ?)",
            (self.rows.app_key, cap),
        )

    def _cascade_delete_runs_for_events(self, event_ids: list[str]) -> int:
        """Delete the runs that name any of ``event_ids``."""
        return sum(
            self._delete_runs(
                f"trigger_run_id IN (SELECT trigger_run_id FROM {G.RUN_LINKS} "
                "WHERE app_key = ? AND kind = 'event' AND ref = ?)",
                (self.rows.app_key, event_id),
            )
            for event_id in dict.fromkeys(event_ids)
        )

    def _delete_events(self, where: str, params: Sequence[object]) -> list[str]:
        """Delete the events matching ``where`` with their invocation links; their ids."""
        key = self.rows.app_key

        def delete(tx: sqlite3.Connection) -> list[str]:
            deleted = [
                event_id
                for (event_id,) in tx.execute(
                    f"DELETE FROM {G.EVENTS} WHERE app_key = ? AND {where} RETURNING event_id",
                    (key, *params),
                ).fetchall()
            ]
            if deleted:
                _delete_unreferenced(tx, G.EVENT_INVOCATIONS, "event_id", G.EVENTS, key)
            return deleted

        return self.rows.database.transact(delete)

    def _delete_runs(self, where: str, params: Sequence[object]) -> int:
        """Delete the runs matching ``where`` with their links; how many."""
        key = self.rows.app_key

        def delete(tx: sqlite3.Connection) -> int:
            deleted = tx.execute(
                f"DELETE FROM {G.RUNS} WHERE app_key = ? AND {where}", (key, *params)
            ).rowcount
            if deleted:
                _delete_unreferenced(tx, G.RUN_LINKS, "trigger_run_id", G.RUNS, key)
            return int(deleted)

        return self.rows.database.transact(delete)


def _event_filter(
    *,
    event_code: str | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    matched: bool | None = None,
    triggered: bool | None = None,
    emitted_by_invocation_id: str | None = None,
    emitted_by_task_id: str | None = None,
) -> tuple[str, list[object]]:
    """The condition (after ``app_key = ?``) and parameters of the event filters given."""
    clauses = ["1"]
    params: list[object] = []
    for clause, value in (
        ("event_code = ?", event_code),
        ("ts >= ?", None if start_time is None else epoch(start_time)),
        ("ts <= ?", None if end_time is None else epoch(end_time)),
        ("emitted_by_invocation_id = ?", emitted_by_invocation_id),
        ("emitted_by_task_id = ?", emitted_by_task_id),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    for column, wanted in (("matched", matched), ("triggered", triggered)):
        if wanted is not None:
            clauses.append(f"{column} {'>' if wanted else '='} 0")
    return " AND ".join(clauses), params


def _links(run: TriggerRunRecord) -> set[tuple[str, str]]:
    """What ``run`` names: its events, source invocations and valid conditions, from
    its participants and from its flat lists."""
    links = {("event", ref) for ref in run.event_ids}
    links |= {("source", ref) for ref in run.source_invocation_ids}
    links |= {("valid", ref) for ref in run.valid_condition_ids}
    for participant in run.participants:
        for kind, ref in (
            ("event", participant.event_id),
            ("source", participant.source_invocation_id),
            ("valid", participant.valid_condition_id),
        ):
            if ref:
                links.add((kind, ref))
    return links


def _delete_unreferenced(
    tx: "sqlite3.Connection", table: str, column: str, owners: str, key: int
) -> None:
    """Delete the app's rows of ``table`` whose ``column`` names no row of ``owners``."""
    tx.execute(
        f"DELETE FROM {table} WHERE app_key = ? AND {column} NOT IN "
        f"(SELECT {column} FROM {owners} WHERE app_key = ?)",
        (key, key),
    )


def _json_list(value: Any) -> list[str]:
    """A JSON array of strings as a list."""
    return [str(item) for item in json.loads(value or "[]")]

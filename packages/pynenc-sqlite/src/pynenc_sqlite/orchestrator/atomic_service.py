"""The atomic service: at most one RUNNING execution per app, and the execution log."""

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pynenc.orchestrator.atomic_service import (
    AtomicServiceExecution,
    AtomicServiceExecutionStatus,
)

from pynenc_sqlite.orchestrator.runners import heartbeat_age
from pynenc_sqlite.rows import AppRows, epoch, utc
from pynenc_sqlite.schema import Tables

if TYPE_CHECKING:
    from pynenc.orchestrator.atomic_service import AtomicServiceRun

RUNNING = AtomicServiceExecutionStatus.RUNNING
_BLOCKED = AtomicServiceExecutionStatus.BLOCKED
_ABANDONED = AtomicServiceExecutionStatus.ABANDONED


@dataclass(frozen=True)
class AtomicServiceLog:
    """Execution records of one app's atomic service."""

    rows: AppRows

    def start(
        self,
        run: "AtomicServiceRun",
        started_at: datetime | None,
        status: AtomicServiceExecutionStatus,
        reason: str,
        dead_after_seconds: float,
    ) -> tuple[bool, AtomicServiceExecutionStatus]:
        """Insert an execution record: whether it was accepted, and the status stored.

        A RUNNING record is the cluster-wide gate: it is stored BLOCKED (a zero-width
        row) while another live RUNNING record exists. A RUNNING record whose runner
        sent no heartbeat for ``dead_after_seconds`` is closed as ABANDONED first, so
        that a killed runner cannot hold the slot forever. The start is stamped inside
        the write transaction, and an abandoned record ends at that instant, so
        recorded windows never overlap.
        """
        run_id = run.atomic_service_id.atomic_service_run_id

        def insert(tx: sqlite3.Connection) -> tuple[bool, AtomicServiceExecutionStatus]:
            started = started_at or datetime.now(UTC)
            run.started_at = started
            stored, why, accepted = status, reason, status != _BLOCKED
            if status == RUNNING:
                prior = self._current_running(tx, epoch(started), dead_after_seconds)
                if prior is not None and prior[0] == run_id:
                    return True, status
                if prior is not None:
                    stored, why = _BLOCKED, reason or f"prior_running:{prior[0]} runner:{prior[1]}"
                    accepted = False
            end = started if stored == _BLOCKED else None
            tx.execute(
                f"INSERT OR REPLACE INTO {Tables.ATOMIC_SERVICE_EXECUTIONS} (app_key, run_id, "
                "runner_id, start_time, end_time, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.rows.app_key,
                    run_id,
                    run.atomic_service_id.runner_id,
                    epoch(started),
                    None if end is None else epoch(end),
                    stored.value,
                    why,
                ),
            )
            return accepted, stored

        return self.rows.database.transact(insert)

    def _current_running(
        self, tx: sqlite3.Connection, now: float, dead_after_seconds: float
    ) -> tuple[str, str] | None:
        """The live RUNNING record (run id, runner id); one of a dead runner is closed as
        ABANDONED at ``now``."""
        age, age_params = heartbeat_age("r")
        row = tx.execute(
            f"""SELECT e.run_id, e.runner_id, {age}
                FROM {Tables.ATOMIC_SERVICE_EXECUTIONS} AS e
                LEFT JOIN {Tables.RUNNER_HEARTBEATS} AS r
                  ON r.app_key = e.app_key AND r.runner_id = e.runner_id
                WHERE e.app_key = ? AND e.status = ?""",
            (*age_params, self.rows.app_key, RUNNING.value),
        ).fetchone()
        if row is None:
            return None
        run_id, runner_id, seconds_since_heartbeat = row
        if seconds_since_heartbeat is not None and seconds_since_heartbeat <= dead_after_seconds:
            return run_id, runner_id
        tx.execute(
            f"UPDATE {Tables.ATOMIC_SERVICE_EXECUTIONS} SET status = ?, end_time = ?, "
            "reason = ? WHERE app_key = ? AND run_id = ?",
            (
                _ABANDONED.value,
                now,
                f"runner {runner_id} sent no heartbeat for {dead_after_seconds:g}s",
                self.rows.app_key,
                run_id,
            ),
        )
        return None

    def finish(
        self,
        run: "AtomicServiceRun",
        end_time: datetime,
        status: AtomicServiceExecutionStatus,
        reason: str,
    ) -> bool:
        """Close the RUNNING record; the first terminal status wins. Whether the run
        still held the service: False when its record was closed before (ABANDONED by
        another runner's claim while this one was paused, for example).

        Without a record for the run, a zero-width one is inserted so the attempt
        stays visible.
        """
        end = epoch(end_time)
        closed = self.rows.database.write_one(
            f"INSERT INTO {Tables.ATOMIC_SERVICE_EXECUTIONS} (app_key, run_id, runner_id,"
            " start_time, end_time, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (app_key, run_id) DO UPDATE SET end_time = excluded.end_time,"
            " status = excluded.status,"
            " reason = CASE WHEN excluded.reason = '' THEN reason ELSE excluded.reason END"
            " WHERE status = 'running' RETURNING run_id",
            (
                self.rows.app_key,
                run.atomic_service_id.atomic_service_run_id,
                run.atomic_service_id.runner_id,
                end,
                end,
                status.value,
                reason,
            ),
        )
        return bool(closed)

    def _executions(self, where: str, params: Sequence[object]) -> list[AtomicServiceExecution]:
        found = self.rows.fetch(
            f"SELECT runner_id, run_id, start_time, end_time, status, reason "
            f"FROM {Tables.ATOMIC_SERVICE_EXECUTIONS} WHERE app_key = ? AND {where}",
            (self.rows.app_key, *params),
        )
        return [
            AtomicServiceExecution.from_raw(
                runner_id=runner_id,
                atomic_service_run_id=run_id,
                start_time=utc(start),
                end_time=None if end is None else utc(end),
                status=AtomicServiceExecutionStatus(status),
                reason=reason,
            )
            for runner_id, run_id, start, end, status, reason in found
        ]

    def active(self) -> list[AtomicServiceExecution]:
        """RUNNING executions, most recently started first."""
        return self._executions("status = ? ORDER BY start_time DESC", (RUNNING.value,))

    def in_range(
        self,
        start_time: datetime,
        end_time: datetime,
        limit: int,
        runner_id: str | None,
        min_duration_seconds: float,
    ) -> list[AtomicServiceExecution]:
        """Executions overlapping [start_time, end_time], newest start first.

        A RUNNING execution (no end yet) overlaps every range after its start.
        """
        where = "start_time <= ? AND (end_time IS NULL OR end_time >= ?)"
        params: list[object] = [epoch(end_time), epoch(start_time)]
        if runner_id is not None:
            where += " AND runner_id = ?"
            params.append(runner_id)
        if min_duration_seconds > 0:
            where += " AND end_time IS NOT NULL AND end_time - start_time >= ?"
            params.append(min_duration_seconds)
        return self._executions(
            f"{where} ORDER BY start_time DESC LIMIT ?", (*params, max(limit, 0))
        )

    def purge(self, retention_minutes: float, max_records: int, kept: Iterable[str]) -> int:
        """Drop finished records past the retention time, then the oldest beyond the cap.

        RUNNING records and the runs in ``kept`` stay.
        """
        protected = json.dumps(sorted(kept))
        purgeable = (
            "app_key = ? AND status != 'running' AND run_id NOT IN (SELECT value FROM json_each(?))"
        )
        key = self.rows.app_key

        def remove(tx: sqlite3.Connection) -> int:
            removed = 0
            if retention_minutes > 0:
                cutoff = (datetime.now(UTC) - timedelta(minutes=retention_minutes)).timestamp()
                removed += tx.execute(
                    f"DELETE FROM {Tables.ATOMIC_SERVICE_EXECUTIONS} "
                    f"WHERE {purgeable} AND end_time < ?",
                    (key, protected, cutoff),
                ).rowcount
            if max_records > 0:
                removed += tx.execute(
                    f"""DELETE FROM {Tables.ATOMIC_SERVICE_EXECUTIONS}
                        WHERE app_key = ? AND run_id IN (
                            SELECT run_id FROM {Tables.ATOMIC_SERVICE_EXECUTIONS}
                            WHERE {purgeable}
                            ORDER BY start_time DESC, run_id DESC
                            LIMIT -1 OFFSET ?)""",
                    (key, key, protected, max_records),
                ).rowcount
            return removed

        return self.rows.database.transact(remove)

"""Runners and recovery: heartbeats, the active runners, and the invocations to recover."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from time import time

from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import ActiveRunnerInfo

from pynenc_sqlite.rows import AppRows, invocation_ids, utc
from pynenc_sqlite.schema import Tables


@dataclass(frozen=True)
class Runners:
    """The runners of one app, by their heartbeats."""

    rows: AppRows

    def heartbeat(
        self,
        runner_ids: list[str],
        can_run_atomic_service: bool,
        consumed_queues: Sequence[str] | None,
    ) -> None:
        """Create or refresh runners; creation time is kept, queues change only when given."""
        if not runner_ids:
            return
        now = time()
        queues = None if consumed_queues is None else json.dumps(list(consumed_queues))
        values = [
            {
                "app_key": self.rows.app_key,
                "runner_id": runner_id,
                "now": now,
                "eligible": int(can_run_atomic_service),
                "queues": queues,
            }
            for runner_id in runner_ids
        ]
        self.rows.database.transact(
            lambda tx: tx.executemany(
                f"""INSERT INTO {Tables.RUNNER_HEARTBEATS} (app_key, runner_id,
                        creation_time, last_heartbeat, can_run_atomic_service,
                        consumed_queues)
                    VALUES (:app_key, :runner_id, :now, :now, :eligible,
                        COALESCE(:queues, '[]'))
                    ON CONFLICT (app_key, runner_id) DO UPDATE SET
                        last_heartbeat = excluded.last_heartbeat,
                        can_run_atomic_service = excluded.can_run_atomic_service,
                        consumed_queues = COALESCE(:queues, consumed_queues)""",
                values,
            )
        )

    def active(
        self, timeout_seconds: float, can_run_atomic_service: bool | None
    ) -> list[ActiveRunnerInfo]:
        """Runners seen within ``timeout_seconds``, by creation time, then runner id."""
        where = "app_key = ? AND last_heartbeat >= ?"
        params: list[object] = [self.rows.app_key, time() - timeout_seconds]
        if can_run_atomic_service is not None:
            where += " AND can_run_atomic_service = ?"
            params.append(int(can_run_atomic_service))
        found = self.rows.fetch(
            f"SELECT runner_id, creation_time, last_heartbeat, can_run_atomic_service, "
            f"consumed_queues FROM {Tables.RUNNER_HEARTBEATS} WHERE {where} "
            "ORDER BY creation_time, runner_id",
            params,
        )
        return [
            ActiveRunnerInfo(
                runner_id=runner_id,
                creation_time=utc(created),
                last_heartbeat=utc(seen),
                allow_to_run_atomic_service=bool(eligible),
                consumed_queues=tuple(json.loads(queues)),
            )
            for runner_id, created, seen, eligible, queues in found
        ]

    def pending_for_recovery(self, max_pending_seconds: float) -> list[InvocationId]:
        """PENDING invocations older than ``max_pending_seconds``, oldest first."""
        return invocation_ids(
            self.rows.fetch(
                f"SELECT invocation_id FROM {Tables.INVOCATIONS} WHERE app_key = ? "
                "AND status = ? AND status_time <= ? ORDER BY status_time, seq",
                (self.rows.app_key, InvocationStatus.PENDING.value, time() - max_pending_seconds),
            )
        )

    def running_for_recovery(self, timeout_seconds: float) -> list[InvocationId]:
        """RUNNING invocations whose owner sent no heartbeat within ``timeout_seconds``."""
        return invocation_ids(
            self.rows.fetch(
                f"""SELECT i.invocation_id FROM {Tables.INVOCATIONS} AS i
                    LEFT JOIN {Tables.RUNNER_HEARTBEATS} AS r
                      ON r.app_key = i.app_key AND r.runner_id = i.owner_id
                    WHERE i.app_key = ? AND i.status = ?
                      AND (r.runner_id IS NULL OR r.last_heartbeat < ?)
                    ORDER BY i.status_time, i.seq""",
                (self.rows.app_key, InvocationStatus.RUNNING.value, time() - timeout_seconds),
            )
        )

"""Runners and recovery: heartbeats, the active runners, and the invocations to recover.

A runner's liveness is the age of its last heartbeat, judged by ``time.monotonic``
when the heartbeat was sent during this boot of this host: that clock is one for
every process of the host, and wall-clock steps (an NTP step, a resume from suspend)
do not move it, so a step forward does not make live runners look dead, nor a step
back keep dead ones alive. Heartbeats of another boot, or where the boot is unknown,
are judged by the wall clock.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import ActiveRunnerInfo

from pynenc_sqlite.rows import AppRows, invocation_ids, utc
from pynenc_sqlite.schema import Tables


def _read_boot_id() -> str | None:
    """This boot of this host (Linux), or None where it is unknown."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


#: ``time.monotonic`` values compare across the processes of one boot only.
BOOT_ID = _read_boot_id()


def heartbeat_age(alias: str, *, by_monotonic: bool = True) -> tuple[str, tuple[object, ...]]:
    """SQL for the seconds since the runner row ``alias`` sent its last heartbeat, with
    its parameters (see the module's docstring; ``by_monotonic=False``: by the wall clock
    only, for files from before heartbeats had a monotonic time)."""
    wall = f"? - {alias}.last_heartbeat"
    if not by_monotonic:
        return f"({wall})", (time.time(),)
    return (
        f"(CASE WHEN {alias}.boot_id = ? THEN ? - {alias}.heartbeat_monotonic ELSE {wall} END)",
        (BOOT_ID, time.monotonic(), time.time()),
    )


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
        now, monotonic = time.time(), time.monotonic()
        queues = None if consumed_queues is None else json.dumps(list(consumed_queues))
        values = [
            {
                "app_key": self.rows.app_key,
                "runner_id": runner_id,
                "now": now,
                "monotonic": monotonic,
                "boot": BOOT_ID,
                "eligible": int(can_run_atomic_service),
                "queues": queues,
            }
            for runner_id in runner_ids
        ]
        self.rows.database.transact(
            lambda tx: tx.executemany(
                f"""INSERT INTO {Tables.RUNNER_HEARTBEATS} (app_key, runner_id,
                        creation_time, last_heartbeat, heartbeat_monotonic, boot_id,
                        can_run_atomic_service, consumed_queues)
                    VALUES (:app_key, :runner_id, :now, :now, :monotonic, :boot,
                        :eligible, COALESCE(:queues, '[]'))
                    ON CONFLICT (app_key, runner_id) DO UPDATE SET
                        last_heartbeat = excluded.last_heartbeat,
                        heartbeat_monotonic = excluded.heartbeat_monotonic,
                        boot_id = excluded.boot_id,
                        can_run_atomic_service = excluded.can_run_atomic_service,
                        consumed_queues = COALESCE(:queues, consumed_queues)""",
                values,
            )
        )

    def active(
        self, timeout_seconds: float, can_run_atomic_service: bool | None
    ) -> list[ActiveRunnerInfo]:
        """Runners seen within ``timeout_seconds``, by creation time, then runner id."""
        age, age_params = heartbeat_age("r")
        where = f"r.app_key = ? AND {age} <= ?"
        params: list[object] = [self.rows.app_key, *age_params, timeout_seconds]
        if can_run_atomic_service is not None:
            where += " AND r.can_run_atomic_service = ?"
            params.append(int(can_run_atomic_service))
        found = self.rows.fetch(
            f"SELECT runner_id, creation_time, last_heartbeat, can_run_atomic_service, "
            f"consumed_queues FROM {Tables.RUNNER_HEARTBEATS} AS r WHERE {where} "
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
                (
                    self.rows.app_key,
                    InvocationStatus.PENDING.value,
                    time.time() - max_pending_seconds,
                ),
            )
        )

    def running_for_recovery(self, timeout_seconds: float) -> list[InvocationId]:
        """RUNNING invocations whose owner sent no heartbeat within ``timeout_seconds``."""
        age, age_params = heartbeat_age("r")
        return invocation_ids(
            self.rows.fetch(
                f"""SELECT i.invocation_id FROM {Tables.INVOCATIONS} AS i
                    LEFT JOIN {Tables.RUNNER_HEARTBEATS} AS r
                      ON r.app_key = i.app_key AND r.runner_id = i.owner_id
                    WHERE i.app_key = ? AND i.status = ?
                      AND (r.runner_id IS NULL OR {age} > ?)
                    ORDER BY i.status_time, i.seq""",
                (
                    self.rows.app_key,
                    InvocationStatus.RUNNING.value,
                    *age_params,
                    timeout_seconds,
                ),
            )
        )

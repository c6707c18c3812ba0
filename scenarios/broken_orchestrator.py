"""A deliberately broken orchestrator, to show that the scenarios catch a bad claim.

``BrokenClaimOrchestrator`` is our orchestrator with one change: a status
transition (the claim of an invocation, among others) reads the current status,
sleeps briefly, and writes the new one without a transaction. Two processes can
then both read REGISTERED and both "claim" the same invocation. Selected with
``--orchestrator broken-claim``; the harness copies this file into the work dir.
"""

import time

from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    status_record_transition,
)

from pynenc_sqlite import PynencSQLiteOrchestrator, Tables

#: Pause between the read and the write, wide enough for another process to interleave.
CLAIM_DELAY_SECONDS = 0.02


class BrokenClaimOrchestrator(PynencSQLiteOrchestrator):
    """Read, validate, sleep, write: each statement in its own implicit transaction."""

    def _atomic_status_transition(
        self,
        invocation_id: InvocationId,
        status: InvocationStatus,
        runner_id: str | None = None,
    ) -> InvocationStatusRecord:
        conn = self.database.connection()
        row = conn.execute(
            f"SELECT status, owner_id FROM {Tables.INVOCATIONS} "
            "WHERE app_key = ? AND invocation_id = ?",
            (self.app_key, invocation_id),
        ).fetchone()
        if row is None:
            raise KeyError(invocation_id)
        current = InvocationStatusRecord(InvocationStatus(row[0]), row[1])
        new_record = status_record_transition(current, status, runner_id)
        time.sleep(CLAIM_DELAY_SECONDS)
        conn.execute(
            f"UPDATE {Tables.INVOCATIONS} SET status = ?, owner_id = ?, status_time = ? "
            "WHERE app_key = ? AND invocation_id = ?",
            (
                new_record.status.value,
                new_record.runner_id,
                new_record.timestamp.timestamp(),
                self.app_key,
                invocation_id,
            ),
        )
        return new_record

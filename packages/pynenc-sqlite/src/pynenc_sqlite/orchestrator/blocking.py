"""Blocking control: which invocations others wait on, stored as edges."""

import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.base_orchestrator import BaseBlockingControl

from pynenc_sqlite.rows import AppRows, invocation_ids, placeholders
from pynenc_sqlite.schema import Tables

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.identifiers.invocation_id import InvocationId

_AVAILABLE_FOR_RUN = sorted(InvocationStatus.get_available_for_run_statuses())


class SQLiteBlockingControl(BaseBlockingControl):
    """Waiting edges between invocations, stored in ``orchestrator_blocking_edges``."""

    def __init__(self, app: "Pynenc", rows: AppRows) -> None:
        self.app = app
        self.rows = rows

    def waiting_for_results(
        self,
        caller_invocation_id: "InvocationId",
        result_invocation_ids: list["InvocationId"],
    ) -> None:
        """Record that ``caller_invocation_id`` waits on each of ``result_invocation_ids``."""
        key = self.rows.app_key
        edges = [
            (key, caller_invocation_id, waited, key, waited) for waited in result_invocation_ids
        ]
        self.rows.database.transact(
            lambda tx: tx.executemany(  # with the waited one's registration order (or None)
                f"""INSERT OR IGNORE INTO {Tables.BLOCKING_EDGES}
                        (app_key, waiter_id, waited_id, waited_registered_time, waited_seq)
                    SELECT ?, ?, ?, i.registered_time, i.seq FROM (SELECT 1)
                    LEFT JOIN {Tables.INVOCATIONS} AS i
                      ON i.app_key = ? AND i.invocation_id = ?""",
                edges,
            )
        )

    def release_waiters(self, waited_invocation_id: "InvocationId") -> None:
        """Remove the invocation from the graph: its waiters and its own waits."""

        def release(tx: sqlite3.Connection) -> None:
            # Two statements, each on its own index (an OR would scan the app's edges).
            for column in ("waited_id", "waiter_id"):
                tx.execute(
                    f"DELETE FROM {Tables.BLOCKING_EDGES} WHERE app_key = ? AND {column} = ?",
                    (self.rows.app_key, waited_invocation_id),
                )

        self.rows.database.transact(release)

    def get_blocking_invocations(self, max_num_invocations: int) -> Iterator["InvocationId"]:
        """Invocations others wait on, waiting on nothing, available for run, oldest first.

        Edges are walked in their waited invocation's registration order and the walk
        stops at the limit: the cost follows the edges of waited invocations that are
        not available (running ones, typically), not every edge of the app.
        """
        query = f"""
            SELECT DISTINCT e.waited_id
            FROM {Tables.BLOCKING_EDGES} AS e
            CROSS JOIN {Tables.INVOCATIONS} AS i
            WHERE e.app_key = ? AND i.app_key = e.app_key AND i.invocation_id = e.waited_id
              AND i.status IN ({placeholders(_AVAILABLE_FOR_RUN)})
              AND NOT EXISTS (
                  SELECT 1 FROM {Tables.BLOCKING_EDGES} AS w
                  WHERE w.app_key = e.app_key AND w.waiter_id = e.waited_id)
            ORDER BY e.waited_registered_time, e.waited_seq
            LIMIT ?"""
        params = (self.rows.app_key, *_AVAILABLE_FOR_RUN, max(max_num_invocations, 0))
        yield from invocation_ids(self.rows.fetch(query, params))

"""A pynenc broker on SQLite for several processes on one host.

Selected in pynenc's config as ``PynencSQLiteBroker`` (pynenc has its own
``SQLiteBroker``). Each queue is a table's rows ordered by priority (highest first),
then by the order they were routed; a message is deleted when taken, so two processes
never take the same one. Polling an empty queue only reads, and waits for a message up
to ``queue_timeout_sec`` as pynenc's broker setting says (pynenc's own SQLite broker
returns at once).
"""

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from pynenc.broker.base_broker import BaseBroker
from pynenc.identifiers.invocation_id import InvocationId

from pynenc_sqlite.conf.config_broker import ConfigBrokerPynencSQLite
from pynenc_sqlite.conf.config_database import load_config
from pynenc_sqlite.rows import OnDatabase, open_rows, placeholders
from pynenc_sqlite.schema import MessageTables

if TYPE_CHECKING:
    from pynenc.app import Pynenc

__all__ = ["PynencSQLiteBroker"]

_MESSAGES = MessageTables.BROKER_MESSAGES
#: Pauses between looks at an empty queue: the first, and the longest (they double).
_FIRST_PAUSE_SECONDS = 0.002
_LONGEST_PAUSE_SECONDS = 0.02


class PynencSQLiteBroker(OnDatabase, BaseBroker):
    """Queues of invocation ids in one SQLite file shared by the processes of a host."""

    def __init__(self, app: "Pynenc") -> None:
        super().__init__(app)
        self.rows = open_rows(app, self.conf)

    @cached_property
    def conf(self) -> ConfigBrokerPynencSQLite:
        return load_config(
            ConfigBrokerPynencSQLite, self.app.config_values, self.app.config_filepath
        )

    def _route_invocation(
        self, invocation_id: "InvocationId", queue_name: str, priority: float
    ) -> None:
        self._route_invocations([invocation_id], queue_name, priority)

    def _route_invocations(
        self, invocation_ids: Sequence["InvocationId"], queue_name: str, priority: float
    ) -> None:
        """One message per invocation, in one transaction."""
        if not invocation_ids:
            return
        key = self.rows.app_key
        self.database.transact(
            lambda tx: tx.executemany(
                f"INSERT INTO {_MESSAGES} (app_key, queue_name, priority, invocation_id) "
                "VALUES (?, ?, ?, ?)",
                [(key, queue_name, priority, invocation_id) for invocation_id in invocation_ids],
            )
        )

    def retrieve_invocation(self, queue_name: str | None = None) -> "InvocationId | None":
        """Take the next message of the queue (the first configured queue by default):
        highest priority first, then oldest. When the queue is empty, wait for one up
        to ``queue_timeout_sec`` (pynenc's broker setting, default 0.1 s), looking
        again after pauses that double from 2 ms to 20 ms; then None.

        Waiting keeps an idle poller (a PersistentProcessRunner worker polls without
        pausing) from taking a CPU that the runners with work need.
        """
        queue = self.conf.queues[0] if queue_name is None else queue_name
        self._validate_queue_names((queue,))
        deadline = time.monotonic() + max(0.0, float(self.conf.queue_timeout_sec))
        pause = _FIRST_PAUSE_SECONDS
        while (taken := self._take_next(queue)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)
        return taken

    def _take_next(self, queue: str) -> "InvocationId | None":
        """Take the next message of ``queue`` now, or None when it is empty.

        The next message is read without the write lock, so that runners polling an
        empty queue never wait for each other; then it is deleted, which one caller only
        can do. The delete matches the whole message, not only its key: SQLite reuses the
        key of a deleted last row, so a key read before may name a newer message by the
        time it is deleted. A caller that lost the race looks again.
        """
        key = self.rows.app_key
        while found := self.rows.fetch(
            f"SELECT seq, invocation_id FROM {_MESSAGES} WHERE app_key = ? AND queue_name = ? "
            "ORDER BY priority DESC, seq LIMIT 1",
            (key, queue),
        ):
            seq, invocation_id = found[0]
            if self.database.write_one(
                f"DELETE FROM {_MESSAGES} WHERE seq = ? AND app_key = ? AND queue_name = ? "
                "AND invocation_id = ? RETURNING seq",
                (seq, key, queue, invocation_id),
            ):
                return InvocationId(invocation_id)
        return None

    def count_invocations(self, queue_names: Sequence[str] | None = None) -> int:
        """Messages waiting in the queues (every configured queue by default)."""
        queues = tuple(self.conf.queues if queue_names is None else queue_names)
        self._validate_queue_names(queues)
        if not queues:
            return 0
        ((count,),) = self.rows.fetch(
            f"SELECT COUNT(*) FROM {_MESSAGES} "
            f"WHERE app_key = ? AND queue_name IN ({placeholders(queues)})",
            (self.rows.app_key, *queues),
        )
        return int(count)

    def purge(self) -> None:
        """Remove every message of this app; other apps in the same file are untouched."""
        self.rows.delete_all((_MESSAGES,))

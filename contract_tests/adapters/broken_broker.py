"""Deliberately broken copies of pynenc-sqlite's broker, one per fault.

Each is our stack in wal with one broker fault; the contract must fail exactly the
clauses in :data:`CASES`.
"""

import time
from collections.abc import Sequence

from pynenc.identifiers.invocation_id import InvocationId

from adapters.broken import broken_component
from pynenc_contract import Component
from pynenc_sqlite import PynencSQLiteBroker
from pynenc_sqlite.schema import MessageTables

_MESSAGES = MessageTables.BROKER_MESSAGES
#: Pause between reading the next message and deleting it: other racers read it too.
TAKE_DELAY_SECONDS = 0.005


class BrokerRenamesQueueNames(PynencSQLiteBroker):
    """Names count_invocations' parameter ``queues``: callers passing ``queue_names=``
    by keyword get a TypeError."""

    def count_invocations(self, queues: Sequence[str] | None = None) -> int:
        return super().count_invocations(queues)


class BrokerIgnoresPriority(PynencSQLiteBroker):
    """Takes messages in routing order, whatever their priority."""

    def _take_next(self, queue: str) -> InvocationId | None:
        key = self.rows.app_key
        while found := self.rows.fetch(
            f"SELECT seq, invocation_id FROM {_MESSAGES} WHERE app_key = ? AND queue_name = ? "
            "ORDER BY seq LIMIT 1",
            (key, queue),
        ):
            if self.database.write_one(
                f"DELETE FROM {_MESSAGES} WHERE seq = ? RETURNING seq", (found[0][0],)
            ):
                return InvocationId(found[0][1])
        return None


class BrokerIgnoresQueue(PynencSQLiteBroker):
    """Takes the app's next message from whichever queue holds it."""

    def _take_next(self, queue: str) -> InvocationId | None:
        key = self.rows.app_key
        while found := self.rows.fetch(
            f"SELECT seq, invocation_id FROM {_MESSAGES} WHERE app_key = ? "
            "ORDER BY priority DESC, seq LIMIT 1",
            (key,),
        ):
            if self.database.write_one(
                f"DELETE FROM {_MESSAGES} WHERE seq = ? RETURNING seq", (found[0][0],)
            ):
                return InvocationId(found[0][1])
        return None


class BrokerTakesWithoutClaim(PynencSQLiteBroker):
    """Reads the next message, pauses, deletes it and returns it even when another racer
    deleted it first: racers that read it together all take it."""

    def _take_next(self, queue: str) -> InvocationId | None:
        found = self.rows.fetch(
            f"SELECT seq, invocation_id FROM {_MESSAGES} WHERE app_key = ? AND queue_name = ? "
            "ORDER BY priority DESC, seq LIMIT 1",
            (self.rows.app_key, queue),
        )
        if not found:
            return None
        time.sleep(TAKE_DELAY_SECONDS)
        self.database.write_one(f"DELETE FROM {_MESSAGES} WHERE seq = ?", (found[0][0],))
        return InvocationId(found[0][1])


class BrokerWaitsBeforeLooking(PynencSQLiteBroker):
    """Looks at the queue only while the timeout runs: with queue_timeout_sec 0 it never
    looks and always gives None."""

    def retrieve_invocation(self, queue_name: str | None = None) -> InvocationId | None:
        queue = self.conf.queues[0] if queue_name is None else queue_name
        deadline = time.monotonic() + float(self.conf.queue_timeout_sec)
        while time.monotonic() < deadline:
            if (taken := self._take_next(queue)) is not None:
                return taken
            time.sleep(0.005)
        return None


class BrokerSharedAcrossApps(PynencSQLiteBroker):
    """Takes the next message of the queue whichever app routed it."""

    def _take_next(self, queue: str) -> InvocationId | None:
        while found := self.rows.fetch(
            f"SELECT seq, invocation_id FROM {_MESSAGES} WHERE queue_name = ? "
            "ORDER BY priority DESC, seq LIMIT 1",
            (queue,),
        ):
            if self.database.write_one(
                f"DELETE FROM {_MESSAGES} WHERE seq = ? RETURNING seq", (found[0][0],)
            ):
                return InvocationId(found[0][1])
        return None


class BrokerPurgesEveryApp(PynencSQLiteBroker):
    """Purges the messages of every app in the file."""

    def purge(self) -> None:
        self.database.write_one(f"DELETE FROM {_MESSAGES}", ())


RENAMES_QUEUE_NAMES = broken_component(Component.BROKER, BrokerRenamesQueueNames)
IGNORES_PRIORITY = broken_component(Component.BROKER, BrokerIgnoresPriority)
IGNORES_QUEUE = broken_component(Component.BROKER, BrokerIgnoresQueue)
TAKES_WITHOUT_CLAIM = broken_component(Component.BROKER, BrokerTakesWithoutClaim)
WAITS_BEFORE_LOOKING = broken_component(Component.BROKER, BrokerWaitsBeforeLooking)
SHARED_ACROSS_APPS = broken_component(Component.BROKER, BrokerSharedAcrossApps)
PURGES_EVERY_APP = broken_component(Component.BROKER, BrokerPurgesEveryApp)

#: broken copy -> (suite modules to run, the clauses that must fail there)
CASES: dict[str, tuple[list[str], set[str]]] = {
    "RENAMES_QUEUE_NAMES": (["test_broker"], {"BROKER-1"}),
    "IGNORES_PRIORITY": (["test_broker"], {"BROKER-2"}),
    "IGNORES_QUEUE": (["test_broker"], {"BROKER-3"}),
    "TAKES_WITHOUT_CLAIM": (["test_broker"], {"BROKER-4", "BROKER-5"}),
    "WAITS_BEFORE_LOOKING": (["test_broker"], {"BROKER-6"}),
    # A purged app that takes another app's messages is not empty either.
    "SHARED_ACROSS_APPS": (["test_broker"], {"BROKER-7", "BROKER-8"}),
    # The other app's queued invocation is gone: it can no longer run.
    "PURGES_EVERY_APP": (["test_broker", "test_across"], {"BROKER-8", "ACROSS-1"}),
}
#: Clauses the whole suite finds broken where they reach beyond the copy's modules.
WHOLE_SUITE: dict[str, set[str]] = {
    # The kept app's queued invocation is taken by the other app.
    "SHARED_ACROSS_APPS": {"BROKER-7", "BROKER-8", "ACROSS-1"},
}

"""pynenc-sqlite's broker beyond pynenc's own suite (``nox -s pynenc_suites``): processes
racing for messages, priorities, apps sharing a file."""

from collections.abc import Sequence
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from pynenc.identifiers.invocation_id import InvocationId

from conftest import JOURNAL_MODE, build_stack_app
from pynenc_contract.workers import run_workers
from pynenc_sqlite import PynencSQLiteBroker
from pynenc_sqlite.contract import stack

MESSAGES = 400
PROCESSES = 4
APP_ID = "broker-race"


def _broker(app_id: str, workdir: Path, queue_timeout_sec: float = 0.1) -> PynencSQLiteBroker:
    settings = {"broker": {"queue_timeout_sec": queue_timeout_sec}}
    broker = stack(JOURNAL_MODE).new_app(app_id, workdir, settings).broker
    assert isinstance(broker, PynencSQLiteBroker)
    return broker


def _take_until_empty(workdir: str, barrier: Barrier) -> list[str]:
    """Once every process is ready, take messages until the queue is empty."""
    broker = _broker(APP_ID, Path(workdir))
    broker.count_invocations()  # opens the connection before the start
    barrier.wait(60)
    taken = []
    while (invocation_id := broker.retrieve_invocation()) is not None:
        taken.append(str(invocation_id))
    return taken


@pytest.mark.crossprocess
@pytest.mark.timeout(300)
def test_processes_racing_for_messages_each_take_different_ones(tmp_path: Path) -> None:
    """Every routed message is taken exactly once, by one of the racing processes."""
    broker = _broker(APP_ID, tmp_path)
    routed = [InvocationId(f"inv-{n:04d}") for n in range(MESSAGES)]
    broker._route_invocations(routed, broker.conf.queues[0], 0.0)
    taken = run_workers(_take_until_empty, [str(tmp_path)] * PROCESSES, timeout=240, name="taker")
    every = [invocation_id for batch in taken for invocation_id in batch]
    assert sorted(every) == sorted(routed)  # none lost, none taken twice
    assert broker.count_invocations() == 0


def test_higher_priority_first_then_oldest_and_apps_apart(tmp_path: Path) -> None:
    ours, theirs = _broker("ours", tmp_path), _broker("theirs", tmp_path)
    queue = ours.conf.queues[0]
    ours._route_invocations([InvocationId("low-1"), InvocationId("low-2")], queue, 0.0)
    ours._route_invocations([InvocationId("high")], queue, 5.0)
    theirs._route_invocations([InvocationId("theirs")], queue, 9.0)
    assert [ours.retrieve_invocation() for _ in range(4)] == ["high", "low-1", "low-2", None]
    ours.purge()
    assert theirs.count_invocations() == 1
    assert theirs.retrieve_invocation() == "theirs"


def test_the_stack_routes_and_stores_client_data_on_its_one_database(tmp_path: Path) -> None:
    app = build_stack_app(tmp_path)
    database = app.orchestrator.database  # type: ignore[attr-defined]
    assert app.broker.database is database  # type: ignore[attr-defined]
    assert app.client_data_store.database is database  # type: ignore[attr-defined]


def test_a_message_taken_in_between_is_not_confused_with_one_reusing_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between one taker's read and its delete, another process takes the message and
    a reroute routes a new one, which SQLite gives the freed key: the first taker must
    take the new message, not delete it while returning the old one (lost, and twice)."""
    ours, other = _broker(APP_ID, tmp_path), _broker(APP_ID, tmp_path)
    queue = ours.conf.queues[0]
    ours._route_invocations([InvocationId("first")], queue, 0.0)
    taken_in_between: list[InvocationId | None] = []
    delete = ours.database.write_one

    def other_process_first(statement: str, params: Sequence[object]) -> list[Any]:
        if not taken_in_between:
            taken_in_between.append(other.retrieve_invocation())
            other._route_invocations([InvocationId("second")], queue, 0.0)
        return delete(statement, params)

    monkeypatch.setattr(ours.database, "write_one", other_process_first)
    assert ours.retrieve_invocation() == "second"
    assert taken_in_between == ["first"]
    assert ours.count_invocations() == 0


def test_an_empty_queue_waits_for_a_message_up_to_the_queue_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller polling an empty queue pauses (instead of spinning) and takes a message
    routed meanwhile; with a timeout of 0 it returns at once."""
    waiting, other = _broker(APP_ID, tmp_path, queue_timeout_sec=60), _broker(APP_ID, tmp_path)
    queue = waiting.conf.queues[0]
    pauses: list[float] = []

    def route_at_the_first_pause(seconds: float) -> None:
        if not pauses:
            other._route_invocations([InvocationId("routed-meanwhile")], queue, 0.0)
        pauses.append(seconds)

    monkeypatch.setattr("pynenc_sqlite.broker.sqlite_broker.time.sleep", route_at_the_first_pause)
    assert waiting.retrieve_invocation() == "routed-meanwhile"
    assert len(pauses) == 1
    assert _broker(APP_ID, tmp_path, queue_timeout_sec=0).retrieve_invocation() is None
    assert len(pauses) == 1

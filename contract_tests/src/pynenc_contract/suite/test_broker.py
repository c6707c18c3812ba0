"""The broker: order, queues, counts, taking each message once, apps apart, purge."""

import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.broker.base_broker import BaseBroker
from pynenc.identifiers.invocation_id import InvocationId

from pynenc_contract import racing
from pynenc_contract.backend import Component, ContractBackend, layer_settings
from pynenc_contract.clauses import clause, signature_drift
from pynenc_contract.suite.conftest import AppFactory

DEFAULT, FAST, SLOW = "default", "fast", "slow"
#: Racers and messages of the take-once races.
RACERS, MESSAGES = 4, 40
#: How long a retrieve of an empty queue may take with queue_timeout_sec 0.
PROMPT_SECONDS = 5.0


def _ids(prefix: str, count: int) -> list[InvocationId]:
    return [InvocationId(f"{prefix}-{index}") for index in range(count)]


def _with_queues(app: Pynenc, **broker_settings: Any) -> Pynenc:
    """``app`` with the queues default, fast and slow configured (and other broker
    settings)."""
    layer_settings(app, {"broker": {"queues": [DEFAULT, FAST, SLOW], **broker_settings}})
    return app


def _take_all(broker: Any, queue: str | None, most: int = 1000) -> list[str]:
    """Retrieve from ``queue`` until it returns None (at most ``most`` messages)."""
    taken: list[str] = []
    while len(taken) < most and (invocation_id := broker.retrieve_invocation(queue)) is not None:
        taken.append(str(invocation_id))
    return taken


def take_all(app: Pynenc, racer: racing.Racer, queues: Sequence[str]) -> list[str]:
    """Race work: take from each queue until it is empty; return what this racer took."""
    return [taken for queue in queues for taken in _take_all(app.broker, queue)]


@clause("BROKER-1")
def test_every_abstract_method_is_implemented(contract_backend: ContractBackend) -> None:
    cls = contract_backend.component_class(Component.BROKER)
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    assert not missing, f"{getattr(cls, '__name__', cls)} lacks {missing}"


@clause("BROKER-1")
def test_the_broker_is_instantiated(broker: Any) -> None:
    assert isinstance(broker, BaseBroker)


@clause("BROKER-1")
def test_signatures_match_the_base_class(contract_backend: ContractBackend) -> None:
    drift = signature_drift(contract_backend.component_class(Component.BROKER) or object)
    assert not drift, "; ".join(drift)


@clause("BROKER-2")
def test_highest_priority_first_then_oldest(broker: Any) -> None:
    broker.route_invocation(InvocationId("low-0"), DEFAULT, -5)
    broker.route_invocation(InvocationId("mid-0"), DEFAULT, 0)
    broker.route_invocations(_ids("high", 2), DEFAULT, 2.5)
    broker.route_invocation(InvocationId("mid-1"), DEFAULT, 0)
    broker.route_invocation(InvocationId("low-1"), DEFAULT, -5)
    broker.route_invocation(InvocationId("high-2"), DEFAULT, 2.5)
    broker.route_invocation(InvocationId("top"), DEFAULT, 100)
    assert _take_all(broker, DEFAULT) == [
        *("top", "high-0", "high-1", "high-2", "mid-0", "mid-1", "low-0", "low-1")
    ]


@clause("BROKER-2")
def test_an_empty_queue_gives_none(broker: Any) -> None:
    assert broker.retrieve_invocation(DEFAULT) is None
    assert broker.retrieve_invocation() is None
    broker.route_invocation(InvocationId("only"), DEFAULT, 0)
    assert broker.retrieve_invocation() == "only"
    assert broker.retrieve_invocation() is None


@clause("BROKER-3")
def test_messages_are_taken_only_from_their_queue(app: Pynenc) -> None:
    broker = _with_queues(app).broker
    broker.route_invocations(_ids("fast", 3), FAST, 0)
    broker.route_invocations(_ids("slow", 2), SLOW, 50)
    broker.route_invocation(InvocationId("default-0"), DEFAULT, 0)
    assert _take_all(broker, FAST) == ["fast-0", "fast-1", "fast-2"]
    assert broker.retrieve_invocation() == "default-0"
    assert broker.retrieve_invocation() is None
    assert _take_all(broker, SLOW) == ["slow-0", "slow-1"]


@clause("BROKER-3")
def test_counts_follow_routes_and_takes(app: Pynenc) -> None:
    broker = _with_queues(app).broker
    assert broker.count_invocations() == 0
    broker.route_invocations(_ids("fast", 3), FAST, 0)
    broker.route_invocations(_ids("slow", 2), SLOW, 10)
    broker.route_invocation(InvocationId("default-0"), DEFAULT, 0)
    assert [broker.count_invocations([queue]) for queue in (DEFAULT, FAST, SLOW)] == [1, 3, 2]
    assert broker.count_invocations([FAST, SLOW]) == 5
    assert broker.count_invocations() == 6
    broker.retrieve_invocation(FAST)
    assert (broker.count_invocations([FAST]), broker.count_invocations()) == (2, 5)


def _assert_each_taken_once(routed: Sequence[str], takes: list[list[str]]) -> None:
    counts = Counter(taken for took in takes for taken in took)
    doubles = {invocation_id: n for invocation_id, n in counts.items() if n > 1}
    assert not doubles, f"{len(doubles)} of {len(routed)} messages taken more than once"
    assert set(counts) == set(routed), f"{len(set(routed) - set(counts))} messages never taken"


@clause("BROKER-4")
@pytest.mark.timeout(120)
def test_threads_take_each_message_once(app: Pynenc, broker: Any) -> None:
    routed = _ids("raced", MESSAGES)
    broker.route_invocations(routed, DEFAULT, 0)
    takes = racing.in_threads(app, f"{__name__}:take_all", [DEFAULT], RACERS, Component.BROKER)
    _assert_each_taken_once(routed, takes)
    assert broker.count_invocations() == 0


@clause("BROKER-5")
@pytest.mark.timeout(180)
def test_processes_take_each_message_once(
    contract_backend: ContractBackend, app: Pynenc, broker: Any, tmp_path: Path
) -> None:
    routed = _ids("raced", MESSAGES)
    broker.route_invocations(routed, DEFAULT, 0)
    takes = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work=f"{__name__}:take_all",
        inputs=[DEFAULT],
        racers=RACERS,
        kind=Component.BROKER,
    )
    _assert_each_taken_once(routed, takes)
    assert broker.count_invocations() == 0


def _retrieve_within(broker: Any, seconds: float) -> tuple[bool, object]:
    """Retrieve from the default queue in a daemon thread: (returned in time, what)."""
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(broker.retrieve_invocation()), daemon=True)
    thread.start()
    thread.join(seconds)
    return (not thread.is_alive() and bool(got), got[0] if got else None)


@clause("BROKER-6")
@pytest.mark.timeout(60)
def test_timeout_zero_drains_the_queue_then_gives_none_at_once(app: Pynenc) -> None:
    broker = _with_queues(app, queue_timeout_sec=0).broker
    routed = [str(invocation_id) for invocation_id in _ids("drained", 8)]
    broker.route_invocations([InvocationId(i) for i in routed], DEFAULT, 0)
    taken = [broker.retrieve_invocation() for _ in routed]
    assert taken == routed, "a retrieve returned None or a repeat while messages waited"
    started = time.monotonic()
    returned, got = _retrieve_within(broker, PROMPT_SECONDS)
    assert returned, f"retrieve of an empty queue still waits after {PROMPT_SECONDS} s"
    assert got is None
    assert time.monotonic() - started < PROMPT_SECONDS


@clause("BROKER-7")
def test_apps_take_and_count_only_their_own_messages(app_factory: AppFactory) -> None:
    first, second = app_factory().broker, app_factory().broker
    shared = _ids("shared", 3)
    first.route_invocations([*shared, InvocationId("first-only")], DEFAULT, 0)
    second.route_invocations([*shared, *_ids("second-only", 2)], DEFAULT, 0)
    assert (first.count_invocations(), second.count_invocations()) == (4, 5)
    assert _take_all(first, DEFAULT) == ["shared-0", "shared-1", "shared-2", "first-only"]
    assert second.count_invocations() == 5
    assert _take_all(second, DEFAULT) == [
        *("shared-0", "shared-1", "shared-2", "second-only-0", "second-only-1")
    ]


@clause("BROKER-8")
def test_purge_empties_only_this_apps_queues(app_factory: AppFactory) -> None:
    purged, kept = (_with_queues(app_factory()).broker for _ in range(2))
    for broker in (purged, kept):
        broker.route_invocations(_ids("waiting", 3), DEFAULT, 0)
        broker.route_invocation(InvocationId("fast-0"), FAST, 5)
    purged.purge()
    assert purged.count_invocations() == 0
    assert (purged.retrieve_invocation(DEFAULT), purged.retrieve_invocation(FAST)) == (None, None)
    purged.route_invocation(InvocationId("after-purge"), DEFAULT, 0)
    assert _take_all(purged, DEFAULT) == ["after-purge"]
    assert (kept.count_invocations([DEFAULT]), kept.count_invocations([FAST])) == (3, 1)
    kept_messages = _take_all(kept, FAST) + _take_all(kept, DEFAULT)
    assert sorted(kept_messages) == ["fast-0", "waiting-0", "waiting-1", "waiting-2"]

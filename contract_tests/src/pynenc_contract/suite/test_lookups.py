"""Look-ups: by task, arguments, statuses and call; pagination, counts, filters, retries."""

from typing import Any

from pynenc import Pynenc
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit, tasks
from pynenc_contract.clauses import clause

REGISTERED, PENDING, RUNNING = (
    InvocationStatus.REGISTERED,
    InvocationStatus.PENDING,
    InvocationStatus.RUNNING,
)


def _index(app: Pynenc, count: int, task_: Any = None, **kwargs: Any) -> list[InvocationId]:
    invs = kit.invocations(app, count, task_, **kwargs)
    for inv in invs:
        app.orchestrator.index_arguments_for_concurrency_control(inv)
    return [inv.invocation_id for inv in invs]


@clause("QUERY-1")
def test_existing_invocations_by_arguments_and_statuses(app: Pynenc) -> None:
    add = kit.task(app)
    first = _index(app, 2, add, x=1, y=2)
    other_y = _index(app, 1, add, x=1, y=3)
    other_task = _index(app, 1, kit.task(app, tasks.echo), value="1")
    kit.walk(app, first[0], kit.path_to(RUNNING))
    find = app.orchestrator.get_existing_invocations
    assert set(find(add)) == {*first, *other_y}
    assert set(find(add, {"x": "1", "y": "2"})) == set(first)
    assert set(find(add, {"x": "1"})) == {*first, *other_y}
    assert set(find(add, {"x": "1", "y": "2"}, [RUNNING])) == {first[0]}
    assert set(find(add, {"x": "1"}, [REGISTERED, PENDING])) == {first[1], *other_y}
    assert list(find(add, {"x": "9"})) == []
    assert other_task[0] not in set(find(add))


@clause("QUERY-1")
def test_argument_values_must_match_exactly(app: Pynenc) -> None:
    add = kit.task(app)
    (inv,) = kit.invocations(app, 1, add, x=12, y=0)
    app.orchestrator.index_arguments_for_concurrency_control(inv)
    value = inv.call.serialized_arguments["x"]
    find = app.orchestrator.get_existing_invocations
    assert list(find(add, {"x": value})) == [inv.invocation_id]
    assert list(find(add, {"x": value + " "})) == []
    assert list(find(add, {"y": value})) == []


@clause("QUERY-2")
def test_task_invocation_ids(app: Pynenc) -> None:
    add, echo = kit.task(app), kit.task(app, tasks.echo)
    adds = kit.invocations(app, 3, add)
    kit.invocations(app, 2, echo, value="v")
    assert set(app.orchestrator.get_task_invocation_ids(add.task_id)) == {
        inv.invocation_id for inv in adds
    }


@clause("QUERY-3")
def test_call_invocation_ids(app: Pynenc) -> None:
    add = kit.task(app)
    same = kit.invocations(app, 1, add, x=5, y=5) + kit.invocations(app, 1, add, x=5, y=5)
    kit.invocations(app, 1, add, x=6, y=5)
    assert same[0].call.call_id == same[1].call.call_id
    assert set(app.orchestrator.get_call_invocation_ids(same[0].call.call_id)) == {
        inv.invocation_id for inv in same
    }


def _register_over_time(app: Pynenc, clock: kit.Clock, count: int) -> list[InvocationId]:
    ids = []
    for _ in range(count):
        ids += kit.registered(app)
        clock.shift(1)
    return ids


@clause("PAGE-1")
def test_pages_are_newest_registration_first(app: Pynenc, clock: kit.Clock) -> None:
    ids = _register_over_time(app, clock, 6)
    for invocation_id in ids[:3]:  # the oldest change status last
        kit.walk(app, invocation_id, kit.path_to(RUNNING))
    assert app.orchestrator.get_invocation_ids_paginated(limit=10) == ids[::-1]
    assert app.orchestrator.get_invocation_ids_paginated(statuses=[RUNNING]) == ids[2::-1]


@clause("PAGE-2")
def test_paging_neither_skips_nor_repeats_while_statuses_change(
    app: Pynenc, clock: kit.Clock
) -> None:
    ids = _register_over_time(app, clock, 23)
    seen: list[InvocationId] = []
    for offset in range(0, 30, 5):
        page = app.orchestrator.get_invocation_ids_paginated(limit=5, offset=offset)
        assert len(page) == min(5, max(0, 23 - offset))
        seen += page
        for invocation_id in ids[offset : offset + 3]:
            kit.walk(app, invocation_id, [PENDING])
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))


@clause("PAGE-3")
def test_counts_agree_with_pages(app: Pynenc) -> None:
    add, echo = kit.task(app), kit.task(app, tasks.echo)
    adds = [inv.invocation_id for inv in kit.invocations(app, 7, add)]
    kit.invocations(app, 4, echo, value="e")
    for invocation_id in adds[:3]:
        kit.walk(app, invocation_id, [PENDING])
    orchestrator = app.orchestrator
    for task_id, statuses, expected in [
        (None, None, 11),
        (add.task_id, None, 7),
        (add.task_id, [PENDING], 3),
        (None, [REGISTERED], 8),
        (echo.task_id, [PENDING, RUNNING], 0),
    ]:
        assert orchestrator.count_invocations(task_id, statuses) == expected
        page = orchestrator.get_invocation_ids_paginated(task_id, statuses, limit=100)
        assert len(page) == expected


@clause("FILTER-1")
def test_filter_by_status(app: Pynenc) -> None:
    ids = kit.registered(app, 4)
    kit.walk(app, ids[0], kit.path_to(InvocationStatus.SUCCESS))
    kit.walk(app, ids[1], [PENDING])
    orchestrator = app.orchestrator
    query = [*ids, InvocationId("unknown-id")]
    assert orchestrator.filter_by_status(query, frozenset({PENDING})) == [ids[1]]
    assert set(orchestrator.filter_by_status(query, frozenset({REGISTERED, PENDING}))) == set(
        ids[1:]
    )
    assert orchestrator.filter_by_status([], frozenset({REGISTERED})) == []
    assert orchestrator.filter_final(query) == [ids[0]]


@clause("RETRY-1")
def test_retries_count_up_from_zero(app: Pynenc) -> None:
    first, second = kit.registered(app, 2)
    orchestrator = app.orchestrator
    assert orchestrator.get_invocation_retries(first) == 0
    for _ in range(3):
        orchestrator.increment_invocation_retries(first)
    assert (
        orchestrator.get_invocation_retries(first),
        orchestrator.get_invocation_retries(second),
    ) == (3, 0)

"""Blocking control: waiting edges, blocking look-ups, release."""

from pynenc import Pynenc
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit
from pynenc_contract.clauses import clause


def _blocking(app: Pynenc, limit: int = 100) -> list[str]:
    return list(app.orchestrator.blocking_control.get_blocking_invocations(limit))


@clause("BLOCK-1")
def test_waited_invocations_are_blocking(app: Pynenc) -> None:
    waiter, first, second = kit.registered(app, 3)
    app.orchestrator.blocking_control.waiting_for_results(waiter, [first, second])
    assert set(_blocking(app)) == {first, second}


@clause("BLOCK-1")
def test_an_invocation_that_waits_is_not_blocking(app: Pynenc) -> None:
    top, middle, leaf = kit.registered(app, 3)
    control = app.orchestrator.blocking_control
    control.waiting_for_results(top, [middle])
    control.waiting_for_results(middle, [leaf])
    assert _blocking(app) == [leaf]


@clause("BLOCK-2")
def test_blocking_look_up_only_returns_invocations_available_for_run(app: Pynenc) -> None:
    waiter, ready, running = kit.registered(app, 3)
    kit.walk(app, running, kit.path_to(InvocationStatus.RUNNING))
    app.orchestrator.blocking_control.waiting_for_results(waiter, [ready, running])
    assert _blocking(app) == [ready]


@clause("BLOCK-2")
def test_blocking_look_up_is_oldest_first_and_limited(app: Pynenc, clock: kit.Clock) -> None:
    waited = []
    for _ in range(5):
        waited += kit.registered(app)
        clock.shift(1)
    (waiter,) = kit.registered(app)
    app.orchestrator.blocking_control.waiting_for_results(waiter, waited[::-1])
    assert _blocking(app, 3) == waited[:3]
    assert _blocking(app, 10) == waited


@clause("BLOCK-3")
def test_release_removes_the_invocation_and_frees_its_waiter(app: Pynenc) -> None:
    top, middle, leaf = kit.registered(app, 3)
    control = app.orchestrator.blocking_control
    control.waiting_for_results(top, [middle])
    control.waiting_for_results(middle, [leaf])
    control.release_waiters(leaf)
    assert _blocking(app) == [middle]
    control.release_waiters(middle)
    assert _blocking(app) == []

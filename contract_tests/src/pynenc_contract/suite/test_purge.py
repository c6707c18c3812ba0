"""Auto purge, purge, and isolation between apps on one backend."""

import time_machine
from pynenc import Pynenc
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory


@clause("PURGE-1")
def test_auto_purge_removes_marked_invocations_after_the_period(
    app: Pynenc, clock: time_machine.Traveller
) -> None:
    done, kept = kit.registered(app, 2)
    kit.walk(app, done, kit.path_to(InvocationStatus.SUCCESS))
    app.orchestrator.set_up_invocation_auto_purge(done)
    hours = app.orchestrator.conf.auto_final_invocation_purge_hours
    clock.shift(hours * 3600 - 60)
    app.orchestrator.auto_purge()
    assert app.orchestrator.count_invocations() == 2
    clock.shift(120)
    app.orchestrator.auto_purge()
    assert list(app.orchestrator.get_invocation_ids_paginated()) == [kept]


@clause("PURGE-2")
def test_purge_removes_only_this_apps_records(app_factory: AppFactory) -> None:
    first, second = app_factory(), app_factory()
    first_ids, second_ids = kit.registered(first, 3), kit.registered(second, 2)
    first.orchestrator.blocking_control.waiting_for_results(first_ids[0], first_ids[1:])
    second.orchestrator.blocking_control.waiting_for_results(second_ids[0], second_ids[1:])
    assert set(first.orchestrator.get_invocation_ids_paginated()) == set(first_ids)
    assert list(first.orchestrator.blocking_control.get_blocking_invocations(10)) != []
    first.orchestrator.purge()
    assert first.orchestrator.count_invocations() == 0
    assert list(first.orchestrator.blocking_control.get_blocking_invocations(10)) == []
    assert set(second.orchestrator.get_invocation_ids_paginated()) == set(second_ids)
    assert set(second.orchestrator.blocking_control.get_blocking_invocations(10)) == set(
        second_ids[1:]
    )

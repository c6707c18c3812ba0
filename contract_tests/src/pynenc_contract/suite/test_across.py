"""Promises of the five components together: apps apart through a purge, and
invocations that one process routes and others run."""

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus
from pynenc.runner.runner_context import RunnerContext
from pynenc.task import Task

from pynenc_contract import kit, racing, tasks
from pynenc_contract.backend import Component, ContractBackend
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory

RUNNER = "contract-runner"


def _large(app: Pynenc, label: str) -> str:
    """A string whose serialized form is above the client data store's threshold."""
    return f"{label}: " + "argument " * app.client_data_store.conf.min_size_to_cache


def _forget_local_copies(app: Pynenc) -> None:
    """Empty the client data store's process-local cache (BaseClientDataStore's), so
    that values are read from the storage."""
    app.client_data_store._deserialized_cache.clear()


def _run_next(app: Pynenc, queue: str, runner_id: str) -> list[DistributedInvocation[Any, Any]]:
    """Take the next invocation of ``queue`` as a runner does and run it; [] when none."""
    context = RunnerContext("ContractRunner", runner_id=runner_id)
    taken = list(
        app.orchestrator.get_invocations_to_run(
            1, context, queue_provider=lambda: [queue], on_queue_retrieved=lambda _: None
        )
    )
    for invocation in taken:
        assert app.orchestrator.get_invocation_status(invocation.invocation_id) == (
            InvocationStatus.PENDING
        )
        invocation.run(context)
    return taken


def run_queued(app: Pynenc, racer: racing.Racer, queues: Sequence[str]) -> list[str]:
    """Race work: run invocations of ``queues`` until none is left; return their ids."""
    ran = []
    for queue in queues:
        while taken := _run_next(app, queue, racer.runner_id):
            ran += [str(invocation.invocation_id) for invocation in taken]
    return ran


def _route_two_and_run_one(app: Pynenc) -> tuple[Task[Any, Any], InvocationId, InvocationId]:
    """Route two calls with large arguments and run the first: (task, run, queued)."""
    add = kit.task(app, tasks.add)
    finished, queued = add(_large(app, "finished"), "!"), add(_large(app, "queued"), "!")
    assert _run_next(app, add.broker_queue, RUNNER)[0].invocation_id == finished.invocation_id
    return add, finished.invocation_id, queued.invocation_id


@clause("ACROSS-1")
def test_one_apps_purge_leaves_another_apps_invocations_runnable(
    app_factory: AppFactory,
) -> None:
    purged, kept = app_factory(), app_factory()
    _route_two_and_run_one(purged)  # the same calls, arguments and results as kept's
    add, finished_id, queued_id = _route_two_and_run_one(kept)
    purged.purge()
    assert (purged.orchestrator.count_invocations(), purged.broker.count_invocations()) == (0, 0)
    _forget_local_copies(kept)
    assert kept.orchestrator.get_invocation_status(finished_id) == InvocationStatus.SUCCESS
    assert kept.state_backend.get_result(finished_id) == _large(kept, "finished") + "!"
    assert kept.broker.count_invocations() == 1
    (ran,) = _run_next(kept, add.broker_queue, RUNNER)
    assert ran.invocation_id == queued_id
    assert ran.arguments.kwargs == {"x": _large(kept, "queued"), "y": "!"}
    assert kept.orchestrator.get_invocation_status(queued_id) == InvocationStatus.SUCCESS
    assert kept.state_backend.get_result(queued_id) == _large(kept, "queued") + "!"


@clause("ACROSS-2")
@pytest.mark.timeout(180)
def test_invocations_routed_here_run_once_in_other_processes(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    add = kit.task(app, tasks.add)
    routed = {
        str(add(_large(app, f"left {index}"), _large(app, "right")).invocation_id): index
        for index in range(6)
    }
    ran = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work=f"{__name__}:run_queued",
        inputs=[add.broker_queue],
        racers=2,
        task_options={"add": {}},
        kind=Component.BROKER,
    )
    counts = Counter(invocation_id for by_racer in ran for invocation_id in by_racer)
    assert {i: n for i, n in counts.items() if n > 1} == {}, "invocations run twice"
    assert set(counts) == set(routed), "invocations never run"
    for invocation_id, index in routed.items():
        assert app.orchestrator.get_invocation_status(InvocationId(invocation_id)) == (
            InvocationStatus.SUCCESS
        )
        result = app.state_backend.get_result(InvocationId(invocation_id))
        assert result == _large(app, f"left {index}") + _large(app, "right")

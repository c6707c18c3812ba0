"""Running and registration concurrency control under races of threads and processes.

pynenc checks running concurrency (``is_authorize_to_run_by_concurrency_control``)
and writes RUNNING (``set_invocation_status``) in two calls, and ``route_call``
looks up an existing invocation before it registers a new one. A backend keeps
the guarantees only if it closes those windows itself.
"""

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.conf.config_task import ConcurrencyControlType as Mode
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit, racing, tasks
from pynenc_contract.backend import ContractBackend
from pynenc_contract.clauses import clause

RACERS = 4
#: Rounds of the registration race: one call per round, raced by every process.
ROUNDS = 3
#: Each mode has its own suite task, so that one set of racing processes races them all.
TASKS = {Mode.TASK: "by_task", Mode.KEYS: "by_keys", Mode.ARGUMENTS: "by_arguments"}
MODES = list(TASKS)


def _options(setting: str, mode: Mode) -> dict[str, Any]:
    """Options of the mode's task with ``setting`` (running or registration concurrency)."""
    keys = {"key_arguments": ("key",)} if mode == Mode.KEYS else {}
    return {setting: mode, **keys}


def _register(app: Pynenc, setting: str, modes: list[Mode]) -> dict[str, dict[str, Any]]:
    """Register the modes' tasks in ``app``; their options by task name."""
    options = {TASKS[mode]: _options(setting, mode) for mode in modes}
    for name, task_options in options.items():
        kit.task(app, getattr(tasks, name), **task_options)
    return options


def _pending_per_racer(app: Pynenc, mode: Mode) -> list[InvocationId]:
    """One PENDING invocation of the mode's task per racer, owned by it; all of them
    conflict under ``mode`` (same key; same arguments for ARGUMENTS)."""
    task = kit.suite_task(app, TASKS[mode])
    invocations = [
        DistributedInvocation.isolated(
            Call(task, Arguments({"key": "k", "n": 0 if mode == Mode.ARGUMENTS else index}))
        )
        for index in range(RACERS)
    ]
    app.orchestrator._register_new_invocations(invocations, kit.REGISTRAR)
    for index, invocation in enumerate(invocations):
        app.orchestrator.index_arguments_for_concurrency_control(invocation)
        app.orchestrator._atomic_status_transition(
            invocation.invocation_id, InvocationStatus.PENDING, racing.racer_id(index)
        )
    return [invocation.invocation_id for invocation in invocations]


def _problems_running(app: Pynenc, ids: list[InvocationId], started: set[str]) -> list[str]:
    """What breaks CC-1/CC-2 among ``ids`` (one mode's conflicting invocations)."""
    statuses = {i: app.orchestrator.get_invocation_status(i) for i in ids}
    running = {i for i, status in statuses.items() if status == InvocationStatus.RUNNING}
    counts = dict(Counter(status.value for status in statuses.values()))
    if len(running) != 1:
        return [f"{len(running)} of {len(ids)} conflicting invocations RUNNING: {counts}"]
    if started & set(ids) != running:
        return [f"a refused racer was told it runs: {counts}"]
    others = {statuses[i] for i in ids if i not in running}
    if not others <= {InvocationStatus.REROUTED, InvocationStatus.PENDING}:
        return [f"refused invocations are neither REROUTED nor PENDING: {counts}"]
    return []


def _assert_one_runs_per_mode(
    app: Pynenc, ids: dict[Mode, list[InvocationId]], started: list[list[str]]
) -> None:
    won = {i for racer in started for i in racer}
    problems = [
        f"{mode.value}: {p}" for mode in ids for p in _problems_running(app, ids[mode], won)
    ]
    assert problems == [], "; ".join(problems)


@clause("CC-1")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_running_concurrency_holds_among_threads(app: Pynenc, mode: Mode) -> None:
    _register(app, "running_concurrency", [mode])
    ids = _pending_per_racer(app, mode)
    started = racing.in_threads(app, "start_running", ids, RACERS)
    _assert_one_runs_per_mode(app, {mode: ids}, started)


@clause("CC-2")
@pytest.mark.timeout(180)
def test_running_concurrency_holds_among_processes(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    options = _register(app, "running_concurrency", MODES)
    ids = {mode: _pending_per_racer(app, mode) for mode in MODES}
    started = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work="start_running",
        inputs=[i for mode in MODES for i in ids[mode]],  # one round per mode
        racers=RACERS,
        task_options=options,
    )
    _assert_one_runs_per_mode(app, ids, started)


@clause("CC-3")
@pytest.mark.timeout(180)
def test_registration_concurrency_holds_among_processes(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    options = _register(app, "registration_concurrency", MODES)
    calls = [f"{TASKS[mode]}:key-{round_}" for mode in MODES for round_ in range(ROUNDS)]
    got = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work="route_same_call",
        inputs=calls,
        racers=RACERS,
        task_options=options,
    )
    problems = []
    for position, mode in enumerate(MODES):
        rounds = range(position * ROUNDS, (position + 1) * ROUNDS)
        per_call = [{ids[round_] for ids in got} for round_ in rounds]
        task = kit.suite_task(app, TASKS[mode])
        stored = set(app.orchestrator.get_task_invocation_ids(task.task_id))
        # TASK allows one REGISTERED invocation of the task: every round reuses it.
        expected = 1 if mode == Mode.TASK else ROUNDS
        if any(len(ids) != 1 for ids in per_call) or len(stored) != expected:
            problems.append(
                f"{mode.value}: {RACERS} processes routing the same call got "
                f"{[len(ids) for ids in per_call]} invocations per call, {len(stored)} "
                f"stored (expected {expected})"
            )
    assert problems == [], "; ".join(problems)

"""Behaviour of this orchestrator beyond the shared contract (which runs in `nox -s contract`)."""

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from pynenc import Pynenc
from pynenc.conf.config_task import ConcurrencyControlType
from pynenc.exceptions import InvocationStatusTransitionError
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceExecutionStatus as Status
from pynenc.orchestrator.atomic_service import AtomicServiceId, AtomicServiceRun
from pynenc.runner.runner_context import RunnerContext

from conftest import JOURNAL_MODE, build_stack_app
from pynenc_contract import kit
from pynenc_sqlite import PynencSQLiteOrchestrator, Tables
from pynenc_sqlite.conf.config_database import SHARED_SECTION
from pynenc_sqlite.contract import stack
from pynenc_sqlite.exceptions import DatabaseFullError


def _run(orchestrator: PynencSQLiteOrchestrator, runner_id: str) -> AtomicServiceRun:
    orchestrator.register_runner_heartbeats([runner_id], can_run_atomic_service=True)
    return AtomicServiceRun(atomic_service_id=AtomicServiceId(runner_id))


def test_incrementing_an_unknown_invocation_raises_key_error(
    orchestrator: PynencSQLiteOrchestrator,
) -> None:
    with pytest.raises(KeyError, match="'missing' is not registered in app"):
        orchestrator.increment_invocation_retries(InvocationId("missing"))


def test_negative_pagination_is_refused(orchestrator: PynencSQLiteOrchestrator) -> None:
    with pytest.raises(ValueError, match=r"limit \(-1\) and offset \(0\) must be zero or positive"):
        orchestrator.get_invocation_ids_paginated(limit=-1)


def test_an_empty_heartbeat_is_a_no_op(orchestrator: PynencSQLiteOrchestrator) -> None:
    orchestrator.register_runner_heartbeats([])
    assert orchestrator.get_active_runners() == []


def test_starting_the_same_run_twice_is_accepted_once(
    orchestrator: PynencSQLiteOrchestrator,
) -> None:
    run = _run(orchestrator, "r1")
    assert orchestrator.record_atomic_service_execution_start(run, None)
    assert orchestrator.record_atomic_service_execution_start(run, None)
    assert len(orchestrator.get_active_atomic_service_executions()) == 1


def test_a_dead_runners_running_record_does_not_block_the_service_forever(
    orchestrator: PynencSQLiteOrchestrator, clock: kit.Clock
) -> None:
    """pynenc 0.4 leaves a killed runner's RUNNING record in place; ours closes it."""
    dead_after = orchestrator.app.conf.runner_considered_dead_after_minutes * 60
    assert orchestrator.record_atomic_service_execution_start(_run(orchestrator, "killed"), None)
    clock.shift(dead_after / 2)
    assert not orchestrator.record_atomic_service_execution_start(_run(orchestrator, "b"), None)
    clock.shift(dead_after)
    assert orchestrator.record_atomic_service_execution_start(_run(orchestrator, "c"), None)
    (active,) = orchestrator.get_active_atomic_service_executions()
    assert active.runner_id == "c"
    start = datetime.fromtimestamp(0, UTC)
    by_runner = {
        execution.runner_id: execution
        for execution in orchestrator.get_atomic_service_executions_in_timerange(
            start, datetime.now(UTC).replace(year=2100)
        )
    }
    assert by_runner["killed"].status == Status.ABANDONED
    assert "sent no heartbeat" in by_runner["killed"].reason


def test_wall_clock_steps_neither_kill_live_runners_nor_revive_dead_ones(
    orchestrator: PynencSQLiteOrchestrator, clock: kit.Clock
) -> None:
    """An NTP step or a resume from suspend moves every process's wall clock at once:
    liveness is judged by ``time.monotonic``, which such steps do not move."""
    timeout = 60.0
    running = {}
    for runner in ("live", "dead"):
        (running[runner],) = kit.registered(orchestrator.app)
        orchestrator.register_runner_heartbeats([runner], can_run_atomic_service=True)
        for status in kit.path_to(InvocationStatus.RUNNING):
            orchestrator._atomic_status_transition(running[runner], status, runner)
    assert orchestrator.record_atomic_service_execution_start(_run(orchestrator, "live"), None)
    step = orchestrator.app.conf.runner_considered_dead_after_minutes * 60 + timeout
    clock.step(step)
    assert {r.runner_id for r in orchestrator._get_active_runners(timeout, None)} == {
        "live",
        "dead",
    }
    assert list(orchestrator._get_running_invocations_for_recovery(timeout)) == []
    assert not orchestrator.record_atomic_service_execution_start(_run(orchestrator, "b"), None)
    clock.shift(timeout + 1)
    orchestrator.register_runner_heartbeats(["live"], can_run_atomic_service=True)
    clock.step(-step)
    assert [r.runner_id for r in orchestrator._get_active_runners(timeout, None)] == ["live"]
    assert list(orchestrator._get_running_invocations_for_recovery(timeout)) == [running["dead"]]


@pytest.mark.parametrize("recover", [True, False])
def test_the_atomic_service_recovers_stuck_invocations_after_each_run(
    make_app: Callable[..., Pynenc], clock: kit.Clock, recover: bool
) -> None:
    """Recovery without waiting for pynenc's recovery crons (at most once a minute):
    a dead runner's RUNNING invocation and one PENDING for too long are rerouted."""
    app = make_app(recover_after_atomic_service=recover)
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    orchestrator.register_runner_heartbeats([kit.OWNER])
    running = kit.at_status(app, InvocationStatus.RUNNING)
    pending = kit.at_status(app, InvocationStatus.PENDING)
    dead_after = app.conf.runner_considered_dead_after_minutes * 60
    clock.shift(dead_after + 1)
    run = _run(orchestrator, "live")
    assert orchestrator.record_atomic_service_execution_start(run, None)
    orchestrator.finalize_atomic_service_execution(run, datetime.now(UTC), Status.COMPLETED)
    statuses = {orchestrator.get_invocation_status(i) for i in (running, pending)}
    if recover:
        assert statuses == {InvocationStatus.REROUTED}
        assert app.broker.count_invocations() == 2
    else:
        assert statuses == {InvocationStatus.RUNNING, InvocationStatus.PENDING}


def test_a_run_that_lost_the_service_while_paused_leaves_its_follow_ups_to_the_holder(
    make_app: Callable[..., Pynenc], clock: kit.Clock
) -> None:
    """A holder paused past the dead timeout (SIGSTOP, a VM freeze) finishes its run
    once continued: its record stays ABANDONED, and recovery is left to the runner
    that holds the service now."""
    app = make_app(recover_after_atomic_service=True)
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    orchestrator.register_runner_heartbeats([kit.OWNER])
    running = kit.at_status(app, InvocationStatus.RUNNING)
    dead_after = app.conf.runner_considered_dead_after_minutes * 60
    paused = _run(orchestrator, "paused")
    assert orchestrator.record_atomic_service_execution_start(paused, None)
    clock.shift(dead_after + 1)
    holder = _run(orchestrator, "holder")
    assert orchestrator.record_atomic_service_execution_start(holder, None)
    orchestrator.finalize_atomic_service_execution(paused, datetime.now(UTC), Status.COMPLETED)
    assert orchestrator.get_invocation_status(running) == InvocationStatus.RUNNING
    orchestrator.finalize_atomic_service_execution(holder, datetime.now(UTC), Status.COMPLETED)
    assert orchestrator.get_invocation_status(running) == InvocationStatus.REROUTED
    status = {
        execution.runner_id: execution.status
        for execution in orchestrator.get_atomic_service_executions_in_timerange(
            datetime.fromtimestamp(0, UTC), datetime.now(UTC).replace(year=2100)
        )
    }
    assert status == {"paused": Status.ABANDONED, "holder": Status.COMPLETED}


def test_a_message_taken_by_a_runner_that_stopped_before_its_claim_is_queued_again(
    tmp_path: Path,
) -> None:
    """In the stack, a REGISTERED invocation whose message is gone (a runner took it,
    then died or failed to write its claim) would never run: it is queued again once
    it is older than ``max_pending_seconds``, and not before."""
    app = build_stack_app(tmp_path)
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    invocation = kit.task(app)(1, 2)
    assert app.broker.retrieve_invocation() is not None  # taken, never claimed
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        for wait, queued in ((0.0, 0), (app.conf.max_pending_seconds + 1, 1)):
            clock.shift(wait)
            run = _run(orchestrator, "live")
            assert orchestrator.record_atomic_service_execution_start(run, None)
            orchestrator.finalize_atomic_service_execution(run, datetime.now(UTC), Status.COMPLETED)
            assert app.broker.count_invocations() == queued
    assert orchestrator.get_invocation_status(invocation.invocation_id) == (
        InvocationStatus.REGISTERED
    )
    assert app.broker.retrieve_invocation() == invocation.invocation_id
    orchestrator.close()


def test_execution_history_is_capped_keeping_the_newest(
    orchestrator: PynencSQLiteOrchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(orchestrator.app.conf), "atomic_service_execution_max_records", 3)
    for index in range(6):
        run = _run(orchestrator, f"r{index}")
        assert orchestrator.record_atomic_service_execution_start(run, None)
        orchestrator.finalize_atomic_service_execution(run, datetime.now(UTC), Status.COMPLETED)
    remaining = orchestrator.get_atomic_service_executions_in_timerange(
        datetime.fromtimestamp(0, UTC), datetime.now(UTC).replace(year=2100)
    )
    assert [execution.runner_id for execution in remaining] == ["r5", "r4", "r3"]


def test_auto_purge_also_drops_blocking_edges_and_arguments(
    make_app: Callable[..., Pynenc],
) -> None:
    app = make_app()
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    invs = kit.invocations(app, 2)
    for inv in invs:
        orchestrator.index_arguments_for_concurrency_control(inv)
    done, waiter = (inv.invocation_id for inv in invs)
    orchestrator.blocking_control.waiting_for_results(waiter, [done])
    orchestrator.set_up_invocation_auto_purge(done)
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        clock.shift(orchestrator.conf.auto_final_invocation_purge_hours * 3600 + 1)
        orchestrator.auto_purge()
    connection = orchestrator.database.connection()
    key = orchestrator.app_key
    args = connection.execute(
        f"SELECT COUNT(*) FROM {Tables.INVOCATION_ARGS} WHERE app_key = ? AND invocation_id = ?",
        (key, done),
    ).fetchone()
    edges = connection.execute(
        f"SELECT COUNT(*) FROM {Tables.BLOCKING_EDGES} WHERE app_key = ?", (key,)
    ).fetchone()
    assert (args, edges) == ((0,), (0,))
    assert orchestrator.count_invocations() == 1


@pytest.mark.parametrize(
    ("by_argument", "statuses"),
    [
        (False, [InvocationStatus.REGISTERED]),
        (False, [InvocationStatus.REGISTERED, InvocationStatus.PENDING]),
        (True, [InvocationStatus.REGISTERED]),
    ],
    ids=["one-status", "two-statuses", "arguments"],
)
def test_existing_invocations_are_read_page_by_page_in_registration_order(
    make_app: Callable[..., Pynenc],
    by_argument: bool,
    statuses: list[InvocationStatus],
) -> None:
    app = make_app()
    task = kit.task(app)
    invs = kit.invocations(app, 250, task)
    for inv in invs:
        app.orchestrator.index_arguments_for_concurrency_control(inv)
    key_arguments = {"y": invs[0].call.serialized_arguments["y"]} if by_argument else None
    found = list(app.orchestrator.get_existing_invocations(task, key_arguments, statuses))
    assert found == [inv.invocation_id for inv in invs]


def test_a_record_changed_after_the_fast_read_is_checked_again_under_the_lock(
    make_app: Callable[..., Pynenc],
) -> None:
    """Another process claims the invocation between our read and our write: our
    transition must be validated against its claim, not overwrite it."""
    app = make_app()
    (inv,) = kit.invocations(app, 1)
    other = make_app(app_id=app.app_id).orchestrator  # its own connection, as in a process
    ours = app.orchestrator
    assert isinstance(ours, PynencSQLiteOrchestrator)
    interleaved: list[str] = []

    def claim_first(statement: str) -> None:
        if statement.startswith("UPDATE") and not interleaved:
            interleaved.append(statement)
            other._atomic_status_transition(inv.invocation_id, InvocationStatus.PENDING, "other")

    ours.database.connection().set_trace_callback(claim_first)
    try:
        with pytest.raises(InvocationStatusTransitionError):
            ours._atomic_status_transition(inv.invocation_id, InvocationStatus.PENDING, "ours")
    finally:
        ours.database.connection().set_trace_callback(None)
    assert interleaved, "the write of the fast path never ran"
    record = ours.get_invocation_status_record(inv.invocation_id)
    assert (record.status, record.runner_id) == (InvocationStatus.PENDING, "other")


@pytest.mark.timeout(60)
def test_a_transition_that_waited_for_the_lock_is_stamped_when_it_wrote(
    make_app: Callable[..., Pynenc],
) -> None:
    """Recovery compares status times with timeouts: a write that waited for another
    writer must not carry the time before its wait."""
    app = make_app()
    (inv,) = kit.invocations(app, 1)
    ours = app.orchestrator
    assert isinstance(ours, PynencSQLiteOrchestrator)
    holder = sqlite3.connect(ours.sqlite_db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    waiting = threading.Event()
    released: list[float] = []

    def release_once_waiting() -> None:
        waiting.wait(30)  # the transition began to write: it waits for the lock
        released.append(time.time())
        holder.execute("COMMIT")

    def note_write(statement: str) -> None:
        if not statement.lstrip().upper().startswith("SELECT"):
            waiting.set()

    releaser = threading.Thread(target=release_once_waiting)
    releaser.start()
    ours.database.connection().set_trace_callback(note_write)
    try:
        record = ours._atomic_status_transition(inv.invocation_id, InvocationStatus.PENDING, "r")
    finally:
        ours.database.connection().set_trace_callback(None)
        releaser.join()
        holder.close()
    assert waiting.is_set(), "the transition never wrote"
    stored = ours.get_invocation_status_record(inv.invocation_id)
    assert stored.timestamp == record.timestamp
    assert record.timestamp.timestamp() >= released[0]


@pytest.mark.timeout(60)
def test_concurrent_route_calls_register_one_invocation(make_app: Callable[..., Pynenc]) -> None:
    """pynenc's route_call looks up and registers in separate calls; ours in one."""
    app = make_app()
    add = kit.task(app, registration_concurrency=ConcurrencyControlType.ARGUMENTS)
    barrier = threading.Barrier(8)

    def submit(_: int) -> str:
        barrier.wait(30)
        return str(add(1, 2).invocation_id)

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(submit, range(8)))
    assert len(ids) == 1
    assert app.orchestrator.count_invocations(add.task_id) == 1


@pytest.mark.parametrize(
    ("mode", "second_args", "blocked"),
    [
        (ConcurrencyControlType.TASK, {"x": 9, "y": 9}, True),
        (ConcurrencyControlType.ARGUMENTS, {"x": 1, "y": 2}, True),
        (ConcurrencyControlType.ARGUMENTS, {"x": 1, "y": 3}, False),
        (ConcurrencyControlType.KEYS, {"x": 1, "y": 3}, True),
        (ConcurrencyControlType.KEYS, {"x": 2, "y": 2}, False),
    ],
)
def test_running_concurrency_is_enforced_in_the_running_transition(
    make_app: Callable[..., Pynenc],
    mode: ConcurrencyControlType,
    second_args: dict[str, int],
    blocked: bool,
) -> None:
    """Both invocations passed pynenc's separate check; only one may start."""
    app = make_app()
    options: dict[str, object] = {"running_concurrency": mode}
    if mode == ConcurrencyControlType.KEYS:
        options["key_arguments"] = ("x",)
    task = kit.task(app, **options)
    (first,) = kit.invocations(app, 1, task, x=1, y=2)
    (second,) = kit.invocations(app, 1, task, **second_args)
    contexts = [RunnerContext(runner_cls="Test", runner_id=f"runner-{n}") for n in (1, 2)]
    for inv, ctx in zip((first, second), contexts, strict=True):
        app.orchestrator.set_invocation_status(inv.invocation_id, InvocationStatus.PENDING, ctx)
    app.orchestrator.set_invocation_status(
        first.invocation_id, InvocationStatus.RUNNING, contexts[0]
    )
    if blocked:
        with pytest.raises(InvocationStatusTransitionError):
            app.orchestrator.set_invocation_status(
                second.invocation_id, InvocationStatus.RUNNING, contexts[1]
            )
    else:
        app.orchestrator.set_invocation_status(
            second.invocation_id, InvocationStatus.RUNNING, contexts[1]
        )
    expected = InvocationStatus.REROUTED if blocked else InvocationStatus.RUNNING
    assert app.orchestrator.get_invocation_status(second.invocation_id) == expected


@pytest.mark.parametrize("recovered_meanwhile", [False, True])
def test_a_result_a_full_disk_kept_out_is_stored_at_the_next_heartbeat(
    tmp_path: Path, recovered_meanwhile: bool
) -> None:
    """A final status that failed for space leaves no invocation RUNNING for good under a
    runner that lives on: the runner's next heartbeat stores it, unless recovery gave the
    work away meanwhile."""
    app = stack(JOURNAL_MODE).new_app(
        "kept", tmp_path, {SHARED_SECTION: {"busy_timeout_seconds": 0.2}}
    )
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, PynencSQLiteOrchestrator)
    (invocation,) = kit.invocations(app, 1)
    runner = RunnerContext("ThreadRunner")
    for status in kit.path_to(InvocationStatus.RUNNING):
        orchestrator.set_invocation_status(invocation.invocation_id, status, runner)
    connection = orchestrator.database.connection()
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    connection.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(DatabaseFullError):
        orchestrator.set_invocation_result(invocation, "x" * 20_000, runner)
    connection.execute("PRAGMA max_page_count=1073741823")
    assert orchestrator.get_invocation_status(invocation.invocation_id) is InvocationStatus.RUNNING
    if recovered_meanwhile:
        orchestrator.set_invocation_status(
            invocation.invocation_id, InvocationStatus.RUNNING_RECOVERY, RunnerContext("Recovery")
        )
    orchestrator.register_runner_heartbeats([runner.runner_id])
    if recovered_meanwhile:
        assert orchestrator.get_invocation_status(invocation.invocation_id) is (
            InvocationStatus.RUNNING_RECOVERY
        )
        with pytest.raises(KeyError):
            app.state_backend.get_result(invocation.invocation_id)
    else:
        assert orchestrator.get_invocation_status(invocation.invocation_id) is (
            InvocationStatus.SUCCESS
        )
        assert app.state_backend.get_result(invocation.invocation_id) == "x" * 20_000
    orchestrator.close()

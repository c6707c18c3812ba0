"""Atomic-service execution records."""

from datetime import UTC, datetime, timedelta

from pynenc import Pynenc
from pynenc.orchestrator.atomic_service import (
    AtomicServiceExecutionStatus as Status,
)
from pynenc.orchestrator.atomic_service import (
    AtomicServiceId,
    AtomicServiceRun,
)

from pynenc_contract import kit
from pynenc_contract.clauses import clause


def _run(app: Pynenc, runner_id: str) -> AtomicServiceRun:
    app.orchestrator.register_runner_heartbeats([runner_id], can_run_atomic_service=True)
    return AtomicServiceRun(atomic_service_id=AtomicServiceId(runner_id))


def _start(app: Pynenc, run: AtomicServiceRun, at: datetime | None = None) -> bool:
    return app.orchestrator.record_atomic_service_execution_start(run, at or datetime.now(UTC))


def _window(app: Pynenc) -> list[tuple[str, Status]]:
    now = datetime.now(UTC)
    return [
        (execution.runner_id, execution.status)
        for execution in app.orchestrator.get_atomic_service_executions_in_timerange(
            now - timedelta(hours=1), now + timedelta(hours=1)
        )
    ]


@clause("AS-1")
def test_first_claim_runs(app: Pynenc) -> None:
    run = _run(app, "r1")
    assert _start(app, run)
    (active,) = app.orchestrator.get_active_atomic_service_executions()
    assert (active.runner_id, active.atomic_service_run_id, active.status) == (
        "r1",
        run.atomic_service_id.atomic_service_run_id,
        Status.RUNNING,
    )
    assert active.end_time is None


@clause("AS-2")
def test_claim_while_another_runs_is_blocked(app: Pynenc, clock: kit.Clock) -> None:
    assert _start(app, _run(app, "r1"))
    clock.shift(1)
    assert not _start(app, _run(app, "r2"))
    assert [e.runner_id for e in app.orchestrator.get_active_atomic_service_executions()] == ["r1"]
    assert _window(app) == [("r2", Status.BLOCKED), ("r1", Status.RUNNING)]
    blocked = app.orchestrator.get_atomic_service_executions_in_timerange(
        datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC), runner_id="r2"
    )[0]
    assert blocked.start_time == blocked.end_time


@clause("AS-3")
def test_finalize_is_idempotent(app: Pynenc, clock: kit.Clock) -> None:
    run = _run(app, "r1")
    assert _start(app, run)
    clock.shift(5)
    first_end = datetime.now(UTC)
    app.orchestrator.finalize_atomic_service_execution(run, first_end, Status.COMPLETED)
    clock.shift(5)
    app.orchestrator.finalize_atomic_service_execution(
        run, datetime.now(UTC), Status.ABANDONED, "reaper"
    )
    (execution,) = app.orchestrator.get_atomic_service_executions_in_timerange(
        first_end - timedelta(minutes=1), first_end
    )
    assert (execution.status, execution.end_time) == (Status.COMPLETED, first_end)
    assert app.orchestrator.get_active_atomic_service_executions() == []
    assert _start(app, _run(app, "r2"))


@clause("AS-3")
def test_finalize_without_start_inserts_a_zero_width_record(app: Pynenc) -> None:
    run = _run(app, "r1")
    end = datetime.now(UTC)
    app.orchestrator.finalize_atomic_service_execution(run, end, Status.ABANDONED, "start lost")
    (execution,) = app.orchestrator.get_atomic_service_executions_in_timerange(
        end - timedelta(minutes=1), end + timedelta(minutes=1)
    )
    assert (execution.status, execution.start_time, execution.end_time) == (
        Status.ABANDONED,
        end,
        end,
    )


@clause("AS-4")
def test_time_range_queries(app: Pynenc, clock: kit.Clock) -> None:
    base = datetime.now(UTC)
    spans = {"early": (0, 10), "middle": (20, 25), "late": (40, 100)}
    for runner_id, (start, end) in spans.items():
        run = _run(app, runner_id)
        assert _start(app, run, base + timedelta(seconds=start))
        app.orchestrator.finalize_atomic_service_execution(
            run, base + timedelta(seconds=end), Status.COMPLETED
        )
    query = app.orchestrator.get_atomic_service_executions_in_timerange

    def runners(start: int, end: int, **kwargs: object) -> list[str]:
        found = query(base + timedelta(seconds=start), base + timedelta(seconds=end), **kwargs)  # type: ignore[arg-type]
        return [execution.runner_id for execution in found]

    assert runners(5, 22) == ["middle", "early"]
    assert runners(11, 19) == []
    assert runners(0, 200) == ["late", "middle", "early"]
    assert runners(0, 200, limit=2) == ["late", "middle"]
    assert runners(0, 200, runner_id="early") == ["early"]
    assert runners(0, 200, min_duration_seconds=8) == ["late", "early"]


@clause("AS-5")
def test_retention_drops_old_finished_records_and_keeps_running(
    app: Pynenc, clock: kit.Clock
) -> None:
    old = _run(app, "old")
    assert _start(app, old)
    app.orchestrator.finalize_atomic_service_execution(old, datetime.now(UTC), Status.COMPLETED)
    running = _run(app, "running")
    assert _start(app, running)
    clock.shift(app.conf.atomic_service_execution_retention_minutes * 60 + 60)
    app.orchestrator.register_runner_heartbeats(["running"], can_run_atomic_service=True)
    assert app.orchestrator.purge_atomic_service_executions() >= 1
    assert [e.runner_id for e in app.orchestrator.get_active_atomic_service_executions()] == [
        "running"
    ]
    far = datetime.now(UTC) + timedelta(days=1)
    remaining = app.orchestrator.get_atomic_service_executions_in_timerange(
        far - timedelta(days=30), far
    )
    assert [e.runner_id for e in remaining] == ["running"]


@clause("AS-6")
def test_a_dead_holder_does_not_keep_the_service(app: Pynenc, clock: kit.Clock) -> None:
    assert _start(app, _run(app, "holder"))
    clock.shift(app.conf.runner_considered_dead_after_minutes * 60 + 1)
    assert _start(app, _run(app, "live")), "a dead runner's execution blocked a live claim"
    active = app.orchestrator.get_active_atomic_service_executions()
    assert [execution.runner_id for execution in active] == ["live"]

"""What a scenario reads back: statuses, histories, invocations, probes, atomic-service
records and runners, from the orchestrator and state backend of the app (through
pynenc's API, whatever the backend) and from the task bodies' probes."""

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pynenc import Pynenc
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.atomic_service import AtomicServiceExecution
from pynenc.state_backend.base_state_backend import InvocationHistory

from pynenc_scenarios.probes import read_probes

#: The module name of the generated app in every work dir.
APP_MODULE = "scenario_app"
FINAL_STATUSES = sorted(InvocationStatus.get_final_statuses())
#: How long wait_final waits for the history entries of invocations already final.
HISTORY_SETTLE_SECONDS = 10.0


class Records:
    """Read access to one scenario app's records (its app and its probe file)."""

    def __init__(self, app: Pynenc, probe_dir: Path) -> None:
        self.app = app
        self.probe_dir = probe_dir

    def active_runners(self, *, parents_only: bool = True) -> list[Any]:
        """Runners with a recent heartbeat: parents (atomic-service eligible) or all."""
        eligible = True if parents_only else None
        return list(self.app.orchestrator.get_active_runners(can_run_atomic_service=eligible))

    def task_id(self, name: str) -> TaskId:
        """Id of a task of the generated app."""
        return TaskId(APP_MODULE, name)

    def count(self, task: str, statuses: Iterable[InvocationStatus] | None = None) -> int:
        """Invocations of ``task`` known to the orchestrator, optionally by status."""
        wanted = list(statuses) if statuses is not None else None
        return self.app.orchestrator.count_invocations(self.task_id(task), wanted)

    def invocation_ids(self, task: str) -> list[str]:
        """Every invocation of ``task`` in the orchestrator."""
        return [str(i) for i in self.app.orchestrator.get_task_invocation_ids(self.task_id(task))]

    def statuses(self, task: str) -> Counter[str]:
        """Current statuses of ``task``'s invocations, counted."""
        orchestrator = self.app.orchestrator
        return Counter(
            orchestrator.get_invocation_status_record(i).status.value  # type: ignore[arg-type]
            for i in self.invocation_ids(task)
        )

    def wait_final(
        self,
        tasks: Sequence[str],
        expected: int,
        timeout: float,
        stall: float | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> "Wait":
        """Wait until ``expected`` invocations of ``tasks`` are final.

        Gives up after ``timeout`` seconds, or after ``stall`` seconds in which no
        invocation of ``tasks`` changed status (a deadlock shows as a stall; a busy
        machine slows progress, it does not stop it). Once they are final, waits (at
        most ``HISTORY_SETTLE_SECONDS``) for their final history entries: pynenc
        writes the status first and the history after it, so stopping a runner at
        once could cut off a history entry.
        """
        start = last_change = time.time()
        previous: Counter[InvocationStatus] = Counter()
        while True:
            progress = self._status_counts(tasks)
            final = sum(progress[status] for status in FINAL_STATUSES)
            now = time.time()
            if progress != previous:
                previous, last_change = progress, now
            if final >= expected:
                self._wait_final_histories(tasks, final)
                return Wait(True, False, now - start, final, expected)
            if now - start > timeout:
                return Wait(False, False, now - start, final, expected)
            if stall is not None and now - last_change > stall:
                return Wait(False, True, now - start, final, expected)
            if on_tick is not None:
                on_tick()
            time.sleep(0.25)

    def _status_counts(self, tasks: Sequence[str]) -> Counter[InvocationStatus]:
        """Invocations of ``tasks`` per status."""
        return Counter(
            {
                status: sum(self.count(task, [status]) for task in tasks)
                for status in InvocationStatus
            }
        )

    def _wait_final_histories(self, tasks: Sequence[str], final: int) -> None:
        deadline = time.time() + HISTORY_SETTLE_SECONDS
        while time.time() < deadline:
            histories = self.histories(tasks)
            recorded = sum(
                1
                for entries in histories.values()
                if any(e.status in FINAL_STATUSES for e in entries)
            )
            if recorded >= final:
                return
            time.sleep(0.1)

    def histories(self, tasks: Sequence[str]) -> dict[str, list["HistoryEntry"]]:
        """Status histories of the invocations of ``tasks``, from the state backend."""
        state_backend = self.app.state_backend
        result: dict[str, list[HistoryEntry]] = {}
        for invocation_id in (i for task in tasks for i in self.invocation_ids(task)):
            entries = [HistoryEntry.of(h) for h in state_backend.get_history(invocation_id)]  # type: ignore[arg-type]
            result[invocation_id] = sorted(entries, key=HistoryEntry.order)
        return result

    def invocation_rows(self, tasks: Sequence[str]) -> dict[str, "InvocationRow"]:
        """Task, arguments and parent of the invocations of ``tasks``, from the state backend."""
        rows = {}
        for invocation_id in (i for task in tasks for i in self.invocation_ids(task)):
            invocation = self.app.state_backend.get_invocation(invocation_id)  # type: ignore[arg-type]
            rows[invocation_id] = InvocationRow(
                invocation.task.task_id.func_name,
                dict(invocation.call.serialized_arguments),
                invocation.parent_invocation_id,
            )
        return rows

    def roots(self, runner_ids: Iterable[str]) -> dict[str, str]:
        """Runner id -> the runner parent at the top of its chain (runner contexts)."""
        state_backend = self.app.state_backend
        found = {}
        for runner_id in set(runner_ids):
            context_ = state_backend.get_runner_context(runner_id)
            while context_ is not None and context_.parent_ctx is not None:
                context_ = context_.parent_ctx
            found[runner_id] = context_.runner_id if context_ is not None else runner_id
        return found

    def bodies_on(self, runs: Iterable["Execution"], runner: str) -> list["Execution"]:
        """The runs of ``runs`` on ``runner`` or on one of its workers (whose runner ids
        differ: a worker's context names its parent)."""
        runs = list(runs)
        roots = self.roots(r.runner_id for r in runs)
        return [r for r in runs if roots.get(r.runner_id, r.runner_id) == runner]

    def probes(self) -> list["Execution"]:
        """Task-body executions recorded by the app (start, end or None, pid)."""
        open_runs: dict[tuple[str, int], Execution] = {}
        runs: list[Execution] = []
        for ts, kind, invocation_id, key, pid, runner_id in read_probes(self.probe_dir):
            if kind == "start":
                started = Execution(invocation_id, key, pid, runner_id, ts, None)
                open_runs[(invocation_id, pid)] = started
                runs.append(started)
            elif (finished := open_runs.pop((invocation_id, pid), None)) is not None:
                finished.end = ts
        return runs

    def wait_bodies_ended(
        self,
        pick: Callable[[list["Execution"]], Iterable["Execution"]],
        what: str,
        timeout: float = 30.0,
    ) -> None:
        """Wait until every body that ``pick`` takes from the probes has ended."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(run.end is not None for run in pick(self.probes())):
                return
            time.sleep(0.1)
        raise TimeoutError(f"{what} did not end within {timeout:g}s")

    def atomic_executions(self, since: float, ahead: float = 1.0) -> list[AtomicServiceExecution]:
        """Atomic-service execution records from ``since`` until ``ahead`` seconds from now
        (runners whose clock is ahead of this process's write times in its future)."""
        start = datetime.fromtimestamp(since, tz=UTC)
        end = datetime.now(UTC) + timedelta(seconds=ahead)
        return list(
            self.app.orchestrator.get_atomic_service_executions_in_timerange(
                start, end, limit=100_000
            )
        )


@dataclass(frozen=True)
class Wait:
    """Outcome of :meth:`AppEnv.wait_final`."""

    done: bool
    stalled: bool
    seconds: float
    final: int
    expected: int

    def describe(self) -> str:
        """One line for a check's detail."""
        state = "done" if self.done else "stalled" if self.stalled else "timed out"
        return f"{self.final}/{self.expected} final, {state} after {self.seconds:.1f}s"


@dataclass(frozen=True)
class HistoryEntry:
    """One status change as the state backend recorded it."""

    status: InvocationStatus
    owner: str | None
    requester: str
    ts: float
    logged: float

    def order(self) -> tuple[float, float]:
        """Sort key: orchestrator write time, then logging time."""
        return (self.ts, self.logged)

    @classmethod
    def of(cls, history: InvocationHistory) -> "HistoryEntry":
        """From pynenc's history record (``ts`` is the orchestrator's write time)."""
        record = history.status_record
        return cls(
            record.status,
            record.runner_id,
            history.runner_context_id,
            record.timestamp.timestamp(),
            history.timestamp.timestamp(),
        )


@dataclass(frozen=True)
class InvocationRow:
    """Task name, serialized arguments and parent of an invocation."""

    task: str
    arguments: dict[str, str]
    parent: str | None


@dataclass
class Execution:
    """One execution of a task body, from the app's probes."""

    invocation_id: str
    key: str
    pid: int
    runner_id: str
    start: float
    end: float | None

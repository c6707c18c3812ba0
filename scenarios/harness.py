"""Shared machinery of the cross-process scenarios (one module for every script).

* :class:`AppEnv`: a work dir holding a generated app module (``scenario_app.py``,
  from ``app_template.py``) and ``config.json``: the backend description's spec
  and the scenario's settings, which every process layers over the app that the
  description builds in the work dir. Task probes go to ``probe.sqlite3``.
* :class:`ManagedProcess`: runner and client processes, each in its own session;
  stopped with SIGTERM to the runner, then SIGKILL of its process group; always
  cleaned up with timeouts, also on exceptions, SIGTERM and Ctrl-C.
* Readers (status histories, invocations, probes, atomic-service records, logs)
  and invariant checks shared by the scenarios.
* :func:`main`: the command line, the outcome of each case (pass, fail, xfail,
  xpass, error; see ``expectations.py``), the summary and the JSON result.
"""

import argparse
import atexit
import contextlib
import fcntl
import importlib
import importlib.metadata
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Literal, NoReturn

from expectations import expected_failure
from pynenc import Pynenc, context
from pynenc.exceptions import InvocationStatusError
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    status_record_transition,
)
from pynenc.orchestrator.atomic_service import AtomicServiceExecution
from pynenc.runner.runner_context import RunnerContext
from pynenc.state_backend.base_state_backend import InvocationHistory

from pynenc_contract import BackendDescription, Capability, KnownFailure
from pynenc_contract.backend import BackendDescriptionError, load_backend
from pynenc_sqlite import PynencSQLiteOrchestrator

PYNENC_VERSION = importlib.metadata.version("pynenc")
SCENARIOS_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCENARIOS_DIR.parent
PYTHON = sys.executable
APP_MODULE = "scenario_app"

RUNNER_TYPES = ("ThreadRunner", "MultiThreadRunner", "ProcessRunner", "PersistentProcessRunner")
RUNNER_ABBREVIATIONS = {
    "ThreadRunner": "TR",
    "MultiThreadRunner": "MTR",
    "ProcessRunner": "PR",
    "PersistentProcessRunner": "PPR",
}
#: The backend the scenarios run on without ``--backend``.
DEFAULT_BACKEND = "pynenc_sqlite.contract:WAL"
FINAL_STATUSES = sorted(InvocationStatus.get_final_statuses())
#: How long wait_final waits for the history entries of invocations already final.
HISTORY_SETTLE_SECONDS = 10.0
#: Environment variable naming a file where every started process group is noted,
#: so that ``run_all.py`` can end leftovers of a scenario it had to kill.
LEDGER_ENV = "SCENARIOS_PROCESS_LEDGER"

#: Fast failure detection and atomic-service cycle (see PYNENC_NOTES.md), layered over
#: the app that the backend description builds.
DEAD_AFTER_MINUTES = 0.1
BASE_CONFIG: dict[str, Any] = {
    "runner_considered_dead_after_minutes": DEAD_AFTER_MINUTES,
    "recover_pending_invocations_cron": "* * * * *",
    "recover_running_invocations_cron": "* * * * *",
    "atomic_service_interval_minutes": 0.05,
    "atomic_service_spread_margin_minutes": 0.005,
    "atomic_service_check_interval_minutes": 0.005,
    "atomic_service_max_start_slot_fraction": 1.0,
    "runner_loop_sleep_time_sec": 0.05,
    "invocation_wait_results_sleep_time_sec": 0.05,
    "log_use_colors": False,
}


# -- options -----------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """Command-line options shared by every scenario script."""

    quick: bool
    backend_spec: str
    backend: BackendDescription
    runners: tuple[str, ...]
    out: Path
    keep: bool
    verbose: bool


def parse_options(
    name: str,
    description: str,
    runner_types: Sequence[str],
    argv: Sequence[str] | None,
    quick_runners: Sequence[str] | None = None,
) -> Options:
    """Parse the common command line of a scenario script.

    Without ``--runner``, every type in ``runner_types`` is driven, or only
    ``quick_runners`` (when given) in the --quick form.
    """
    parser = argparse.ArgumentParser(
        prog=f"scenarios/{name}.py",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI form)")
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        metavar="MODULE:ATTR",
        help="the backend: a pynenc_contract.BackendDescription, as for the contract "
        f"(default {DEFAULT_BACKEND}); importable from the current directory or PYTHONPATH",
    )
    parser.add_argument(
        "--runner",
        action="append",
        choices=[*runner_types, "all"],
        help="runner type to drive (repeatable; default: all that apply, fewer in --quick "
        "for some scenarios)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "results" / "scenarios" / name,
        help="directory for the JSON result and failing runners' logs",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument("--verbose", action="store_true", help="runner logs at info level")
    args = parser.parse_args(argv)
    backend = scenario_backend(args.backend, parser.error)
    default = quick_runners if args.quick and quick_runners else runner_types
    chosen = args.runner or ["all"]
    if "all" in chosen:
        runners = tuple(runner_types) if args.runner else tuple(default)
    else:
        runners = tuple(dict.fromkeys(chosen))
    return Options(args.quick, args.backend, backend, runners, args.out, args.keep, args.verbose)


def scenario_backend(spec: str, error: Callable[[str], NoReturn]) -> BackendDescription:
    """Load the description; ``error`` (a usage error) when it cannot run scenarios."""
    sys.path.insert(0, os.getcwd())  # as `python -m` would, for a module beside the caller
    try:
        backend = load_backend(spec)
    except BackendDescriptionError as problem:
        error(f"--backend: {problem}")
    if Capability.CROSS_PROCESS not in backend.capabilities:
        error(
            f"--backend {spec}: {backend.name} lacks the cross_process capability; the "
            "scenarios run runners in several processes on one backend"
        )
    return backend


# -- processes -----------------------------------------------------------------
_LIVE: dict[int, "ManagedProcess"] = {}


class ManagedProcess:
    """A child process leading its own session (process group id == pid)."""

    def __init__(
        self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.runner_id = ""
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.popen.pid
        _LIVE[self.pid] = self
        if ledger := os.environ.get(LEDGER_ENV):
            with open(ledger, "a") as handle:
                handle.write(f"{self.pid} {cwd}\n")

    def alive(self) -> bool:
        """Whether the leading process still runs."""
        return self.popen.poll() is None

    def group_alive(self) -> bool:
        """Whether any process of the group (workers included) still exists."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal_group(self, signum: int) -> None:
        """Signal every process of the group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def signal_leader(self, signum: int) -> None:
        """Signal the leading process only (its workers are left alone)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stop(self, grace: float = 4.0) -> None:
        """SIGTERM the leader, wait ``grace`` seconds, then SIGKILL the whole group."""
        if self.alive():
            self.signal_leader(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        deadline = time.time() + 5
        while self.group_alive() and time.time() < deadline:
            time.sleep(0.05)
        _LIVE.pop(self.pid, None)


class StartGate:
    """A start line for processes: each waits for a shared lock on a file that this
    process holds exclusively, so all of them pass at the instant it lets go.

    A process at the gate prints ``waiting at <file name>`` (see ``pass_gate`` in
    ``app_template.py``); the gate opens once every process has printed it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = path.open("wb")
        fcntl.lockf(self._handle, fcntl.LOCK_EX)

    def open_when_all_wait(self, processes: Sequence[ManagedProcess], deadline: float) -> None:
        """Open the gate once each process waits at it; fail when one exits or at deadline."""
        mark = f"waiting at {self.path.name}\n"
        waiting: set[int] = set()
        while len(waiting) < len(processes):
            for process in processes:
                if process.pid not in waiting and mark in process.log_path.read_text():
                    waiting.add(process.pid)
                elif not process.alive():
                    raise RuntimeError(f"{process.name} exited: {tail(process.log_path)}")
            if time.time() > deadline:
                raise TimeoutError(
                    f"{len(waiting)} of {len(processes)} processes reached {self.path.name}"
                )
            time.sleep(0.02)
        self.open()

    def open(self) -> None:
        """Let every waiting process through (idempotent)."""
        if not self._handle.closed:
            self._handle.close()  # releases the lock


def cleanup_processes() -> None:
    """End every process group this process started and did not stop yet."""
    for process in list(_LIVE.values()):
        process.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(5)
        _LIVE.pop(process.pid, None)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    del frame
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not interrupt cleanup
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt and end leftovers at exit."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    atexit.register(cleanup_processes)


def _child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without PYNENC__ settings, plus ``extra``; the directory this
    process started in stays importable, so that children load the same description."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC__")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    )
    env.update(extra)
    return env


# -- app environment ------------------------------------------------------------
def runner_settings(runner_type: str, slots: int) -> dict[str, Any]:
    """Config sections giving a runner of ``runner_type`` about ``slots`` parallel slots.

    ProcessRunner always uses ``cpu_count()`` processes (``min_parallel_slots``
    can only raise it). MultiThreadRunner workers read ``ConfigThreadRunner``
    (pynenc defect 6), so one thread per worker is set there.
    """
    match runner_type:
        case "ThreadRunner":
            return {"threadrunner": {"max_threads": slots}}
        case "MultiThreadRunner":
            return {
                "multithreadrunner": {"max_processes": slots, "min_processes": 1},
                "threadrunner": {"max_threads": 1},
            }
        case "ProcessRunner":
            return {"runner": {"min_parallel_slots": slots}}
        case "PersistentProcessRunner":
            return {"persistentprocessrunner": {"num_processes": slots}}
    raise ValueError(f"unknown runner type {runner_type!r}")


def effective_slots(runner_type: str, slots: int) -> int:
    """Parallel slots a runner really has with :func:`runner_settings`."""
    if runner_type == "ProcessRunner":
        return max(slots, os.cpu_count() or 1)
    return slots


def prestarted_workers(runner_type: str, slots: int) -> int:
    """Worker processes a runner starts before taking work (each sends heartbeats)."""
    return slots if runner_type in ("MultiThreadRunner", "PersistentProcessRunner") else 0


@dataclass
class Case:
    """One run of a scenario: a runner type on a backend, and a variant."""

    scenario: str
    runner_type: str
    backend: str
    variant: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short unique name of the case inside its scenario and backend."""
        parts = [RUNNER_ABBREVIATIONS.get(self.runner_type, self.runner_type)]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    def check_id(self, check: str) -> str:
        """How known failures name a check of this case: ``scenario/label: check``."""
        return f"{self.scenario}/{self.label}: {check}"


class AppEnv:
    """A work dir with the generated app and its config; starts and stops runners."""

    def __init__(
        self,
        case: Case,
        opts: Options,
        *,
        slots: int = 2,
        config: Mapping[str, Any] | None = None,
        runner_env: Mapping[str, str] | None = None,
    ) -> None:
        self.case = case
        self.opts = opts
        self.workdir = Path(tempfile.mkdtemp(prefix=f"pynenc-{case.scenario}-"))
        self.app_id = f"{case.scenario}-{uuid.uuid4().hex[:8]}"
        self.runner_env = dict(runner_env or {})
        self.slots = slots
        self.processes: list[ManagedProcess] = []
        self.config = self._config(slots, config or {})
        document = {"backend": opts.backend_spec, "settings": self.config}
        (self.workdir / "config.json").write_text(json.dumps(document, indent=1))
        shutil.copy(SCENARIOS_DIR / "app_template.py", self.workdir / f"{APP_MODULE}.py")
        with contextlib.closing(sqlite3.connect(self.workdir / "probe.sqlite3")) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE probe (ts REAL, kind TEXT, invocation_id TEXT, "
                "key TEXT, pid INTEGER, runner_id TEXT)"
            )
        self.module = self._import_module()
        self.app: Pynenc = self.module.app

    def _config(self, slots: int, extra: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {
            **BASE_CONFIG,
            "app_id": self.app_id,
            "logging_level": "info" if self.opts.verbose else "warning",
        }
        if self.case.runner_type in RUNNER_TYPES:
            values.update(runner_settings(self.case.runner_type, slots))
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        return values

    def _import_module(self) -> ModuleType:
        sys.modules.pop(APP_MODULE, None)
        sys.path.insert(0, str(self.workdir))
        try:
            return importlib.import_module(APP_MODULE)
        finally:
            sys.path.remove(str(self.workdir))

    # -- processes ---------------------------------------------------------
    def start_runner(self) -> ManagedProcess:
        """Start ``python -m pynenc --app scenario_app.app runner start``."""
        index = len(self.processes)
        extra = {**self.runner_env, "PYNENC__RUNNER_CLS": self.case.runner_type}
        process = ManagedProcess(
            f"runner-{index}",
            [PYTHON, "-m", "pynenc", "--app", f"{APP_MODULE}.app", "runner", "start"],
            self.workdir,
            _child_environment(extra),
            self.workdir / f"runner-{index}.log",
        )
        self.processes.append(process)
        return process

    def start_runners(self, count: int, timeout: float = 60.0) -> list[ManagedProcess]:
        """Start ``count`` runners at once; return when they and their workers are up.

        Readiness is seen in the orchestrator: each runner parent and each
        pre-started worker process registers a heartbeat.
        """
        workers = prestarted_workers(self.case.runner_type, self.slots)
        before = {r.runner_id for r in self.active_runners(parents_only=False)}
        started = [self.start_runner() for _ in range(count)]
        deadline = time.time() + timeout
        while time.time() < deadline:
            new = {r.runner_id for r in self.active_runners(parents_only=False)} - before
            if len(new) >= count * (1 + workers):
                return started
            for process in started:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited: {tail(process.log_path)}")
            time.sleep(0.1)
        raise TimeoutError(f"{count} runners sent no heartbeat in {timeout:g}s")

    def start_identified_runner(self, timeout: float = 60.0) -> ManagedProcess:
        """Start a runner and wait for its first heartbeat, to learn its runner id."""
        before = {r.runner_id for r in self.active_runners()}
        process = self.start_runner()
        deadline = time.time() + timeout
        while time.time() < deadline:
            new = [r.runner_id for r in self.active_runners() if r.runner_id not in before]
            if new:
                process.runner_id = new[0]
                return process
            if not process.alive():
                raise RuntimeError(f"{process.name} exited: {tail(process.log_path)}")
            time.sleep(0.1)
        raise TimeoutError(f"{process.name} sent no heartbeat in {timeout:g}s")

    def active_runners(self, *, parents_only: bool = True) -> list[Any]:
        """Runners with a recent heartbeat: parents (atomic-service eligible) or all."""
        eligible = True if parents_only else None
        return list(self.app.orchestrator.get_active_runners(can_run_atomic_service=eligible))

    def run_clients(
        self, codes: Sequence[str], timeout: float, gates: Sequence[str] = ()
    ) -> list[str]:
        """Run ``python -c code`` in the work dir for each code, concurrently; stdout of each.

        Each of ``gates`` (names of :class:`StartGate` files in the work dir) opens once
        every client is waiting at it, so that all of them pass it at the same instant.
        """
        closed = [StartGate(self.workdir / gate) for gate in gates]
        clients = [
            ManagedProcess(
                f"client-{i}",
                [PYTHON, "-c", code],
                self.workdir,
                _child_environment({}),
                self.workdir / f"client-{i}.log",
            )
            for i, code in enumerate(codes)
        ]
        deadline = time.time() + timeout
        try:
            for gate in closed:
                gate.open_when_all_wait(clients, deadline)
            for client in clients:
                client.popen.wait(max(0.1, deadline - time.time()))
        finally:
            for gate in closed:
                gate.open()
            for client in clients:
                client.stop(grace=0.5)
        return [client.log_path.read_text() for client in clients]

    def stop_all(self) -> None:
        """Stop every runner (SIGTERM, then SIGKILL of the group)."""
        for process in self.processes:
            process.signal_leader(signal.SIGTERM)
        for process in self.processes:
            process.stop()

    def close(self, keep_logs_in: Path | None) -> None:
        """Stop runners, close connections, keep failing logs, remove the work dir."""
        self.stop_all()
        close = getattr(self.app.orchestrator, "close", None)
        if callable(close):
            close()
        if keep_logs_in is not None:
            keep_logs_in.mkdir(parents=True, exist_ok=True)
            for log in self.workdir.glob("*.log"):
                shutil.copy(log, keep_logs_in / log.name)
            shutil.copy(self.workdir / "config.json", keep_logs_in / "config.json")
        if not self.opts.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def logs(self) -> list[Path]:
        """Logs of every runner and client of this environment."""
        return sorted(self.workdir.glob("*.log"))

    # -- orchestrator and state backend ---------------------------------------
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

    def recover_now(self) -> int:
        """Run the bodies of pynenc's two recovery core tasks in this process.

        The same code the recovery crons run inside a runner (at most once a
        minute); scenarios call it once a killed runner is past the dead timeout.
        Returns how many invocations were due for recovery.
        """
        from pynenc.core_tasks import recover_pending_invocations, recover_running_invocations

        orchestrator = self.app.orchestrator
        running = len(list(orchestrator.get_running_invocations_for_recovery()))
        pending = len(list(orchestrator.get_pending_invocations_for_recovery()))
        context.set_current_app(self.app)
        context.set_runner_context(self.app.app_id, RunnerContext("ScenarioRecovery"))
        if running:
            recover_running_invocations()
        if pending:
            recover_pending_invocations()
        return running + pending

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

    def probes(self) -> list["Execution"]:
        """Task-body executions recorded by the app (start, end or None, pid)."""
        query = "SELECT ts, kind, invocation_id, key, pid, runner_id FROM probe ORDER BY ts"
        rows = _read_rows(self.workdir / "probe.sqlite3", query)
        open_runs: dict[tuple[str, int], Execution] = {}
        runs: list[Execution] = []
        for ts, kind, invocation_id, key, pid, runner_id in rows:
            if kind == "start":
                started = Execution(invocation_id, key, pid, runner_id, ts, None)
                open_runs[(invocation_id, pid)] = started
                runs.append(started)
            elif (finished := open_runs.pop((invocation_id, pid), None)) is not None:
                finished.end = ts
        return runs

    def atomic_executions(self, since: float) -> list[AtomicServiceExecution]:
        """Atomic-service execution records from ``since`` until now."""
        start = datetime.fromtimestamp(since, tz=UTC)
        end = datetime.now(UTC) + timedelta(seconds=1)
        return list(
            self.app.orchestrator.get_atomic_service_executions_in_timerange(
                start, end, limit=100_000
            )
        )


def _read_rows(path: str | Path, query: str) -> list[Any]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(query).fetchall()


def tail(path: Path, lines: int = 5) -> str:
    """Last lines of a log file."""
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


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


# -- invariants ----------------------------------------------------------------
@dataclass
class Check:
    """One invariant and whether it held."""

    name: str
    ok: bool
    detail: str = ""


def check_histories_replay(
    histories: Mapping[str, list[HistoryEntry]], only: Iterable[str] | None = None
) -> Check:
    """Each history, in orchestrator-time order, replays under pynenc's status rules.

    Every recorded change must be a transition that pynenc's state machine and
    ownership rules allow from the previous record (two claims of the same
    REGISTERED invocation, for example, cannot both replay).
    """
    ids = list(only) if only is not None else list(histories)
    bad: list[str] = []
    for invocation_id in ids:
        current: InvocationStatusRecord | None = None
        for entry in histories.get(invocation_id, []):
            try:
                current = status_record_transition(current, entry.status, entry.requester)
            except InvocationStatusError as error:
                bad.append(
                    f"{invocation_id[:8]}: {type(error).__name__} "
                    f"{current.status.value if current else None}->{entry.status.value}"
                )
                break
    return Check(
        "histories replay under pynenc's status rules",
        not bad,
        f"{len(bad)} of {len(ids)} invalid" + (f"; e.g. {bad[:3]}" if bad else ""),
    )


def check_all_succeeded(env: AppEnv, tasks: Sequence[str], expected: int) -> Check:
    """Every expected invocation exists and ended SUCCESS."""
    counts: Counter[str] = Counter()
    for task in tasks:
        counts.update(env.statuses(task))
    total = sum(counts.values())
    ok = total == expected and counts["success"] == expected
    return Check(
        "all invocations registered and SUCCESS (none lost)",
        ok,
        f"expected {expected}, found {total}: {dict(counts)}",
    )


def check_no_duplicates(runs: Sequence[Execution], invocation_ids: Iterable[str]) -> Check:
    """No invocation's body started more than once (liveness is checked elsewhere)."""
    per_invocation = Counter(run.invocation_id for run in runs)
    ids = list(invocation_ids)
    twice = [i for i in ids if per_invocation[i] > 1]
    never = sum(1 for i in ids if per_invocation[i] == 0)
    return Check(
        "no body ran more than once",
        not twice,
        f"{len(ids)} invocations: {len(twice)} ran more than once, {never} never ran",
    )


def running_intervals(
    histories: Mapping[str, list[HistoryEntry]], ids: Iterable[str], until: float
) -> list[tuple[str, float, float]]:
    """(invocation, start, end) for every RUNNING period in the histories."""
    intervals = []
    for invocation_id in ids:
        entries = histories.get(invocation_id, [])
        for position, entry in enumerate(entries):
            if entry.status is InvocationStatus.RUNNING:
                later = entries[position + 1 :]
                end = later[0].ts if later else until
                intervals.append((invocation_id, entry.ts, end))
    return intervals


def overlaps(
    intervals: Sequence[tuple[str, float, float]], owner: Callable[[str], str] = str
) -> list[tuple[str, str, float]]:
    """Overlapping (label, start, end) intervals of different owners, with the overlap in s."""
    ordered = sorted(intervals, key=lambda item: item[1])
    found = []
    for index, (first, _, end) in enumerate(ordered):
        for second, other_start, other_end in ordered[index + 1 :]:
            if other_start >= end:
                break
            if owner(second) != owner(first):
                found.append((first, second, min(end, other_end) - other_start))
    return found


LOCKED_PATTERNS = ("database is locked", "stayed locked for more than")
#: pynenc's create_sqlite_connection logs this and goes on (pynenc defect, see README).
PRAGMA_LOCKED = "PRAGMA configuration failed: database is locked"


def scan_logs(paths: Iterable[Path], patterns: Sequence[str]) -> dict[str, int]:
    """Occurrences of each pattern (case-insensitive) in the given logs."""
    counts = dict.fromkeys(patterns, 0)
    for path in paths:
        text = path.read_text(errors="replace").lower()
        for pattern in patterns:
            counts[pattern] += text.count(pattern.lower())
    return counts


def check_no_locked(env: AppEnv, result: "CaseResult") -> Check:
    """No "database is locked" (nor our DatabaseLockedError) in any log.

    pynenc's own PRAGMA warning on a new connection is counted apart, in the
    ``pragma_locked`` metric: it is pynenc's, logged and ignored.
    """
    counts = scan_logs(env.logs(), [*LOCKED_PATTERNS, PRAGMA_LOCKED])
    pragma = counts.pop(PRAGMA_LOCKED)
    counts[LOCKED_PATTERNS[0]] -= pragma
    detail = ", ".join(f"{k!r}: {v}" for k, v in counts.items())
    if pragma:
        result.metrics["pragma_locked"] = pragma
        detail += f" (and {pragma} of pynenc's PRAGMA warning, not counted)"
    return Check('no "database is locked" in runner logs', not any(counts.values()), detail)


def check_journal_mode(env: AppEnv) -> Check | None:
    """pynenc-sqlite's file shows the journal mode it was configured with (None for
    other orchestrators).

    WAL is recorded in the file header (bytes 18-19 are 2); of the rollback
    modes, ``persist`` leaves a non-empty -journal file, ``truncate`` an empty
    one, ``delete`` and ``memory`` none.
    """
    orchestrator = env.app.orchestrator
    if not isinstance(orchestrator, PynencSQLiteOrchestrator):
        return None
    path = Path(orchestrator.sqlite_db_path)
    with path.open("rb") as handle:
        wal = handle.read(20)[18:20] == b"\x02\x02"
    journal = path.with_name(path.name + "-journal")
    if wal:
        seen = {"wal"}
    elif journal.exists():
        seen = {"persist"} if journal.stat().st_size else {"truncate"}
    else:
        seen = {"delete", "memory"}
    wanted = orchestrator.settings.journal_mode.value
    return Check(
        f"orchestrator file in journal mode {wanted}",
        wanted in seen,
        f"file shows {' or '.join(sorted(seen))}",
    )


# -- results, outcome and summary ------------------------------------------------
Outcome = Literal["pass", "fail", "xfail", "xpass", "error"]


@dataclass
class CaseResult:
    """Checks, metrics and notes of one case, and its outcome."""

    case: Case
    backend: BackendDescription
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    expected: dict[str, KnownFailure] = field(default_factory=dict)

    def add(self, check: Check) -> Check:
        """Record a check, with its known failure if the backend or pynenc has one."""
        self.checks.append(check)
        known = expected_failure(self.backend, self.case.check_id(check.name))
        if known is not None:
            self.expected[check.name] = known
        return check

    @property
    def outcome(self) -> Outcome:
        """pass, fail (unexpected), xfail (only known failures), xpass or error.

        A case that raised is an ``error``, unless its failed check
        :data:`CASE_RUNS` is a known failure of the backend.
        """
        if self.error and CASE_RUNS not in self.expected:
            return "error"
        failed = {check.name for check in self.checks if not check.ok}
        if failed - self.expected.keys():
            return "fail"
        if {name for name, known in self.expected.items() if known.strict} - failed:
            return "xpass"
        return "xfail" if failed else "pass"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.case.label,
            **{k: v for k, v in asdict(self.case).items() if k != "params"},
            "params": self.case.params,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 2),
            "checks": [asdict(check) for check in self.checks],
            "metrics": self.metrics,
            "notes": self.notes,
            "error": self.error,
            "backend": self.backend.name,
            "expected_failures": {k: asdict(v) for k, v in self.expected.items()},
        }


def _format_metrics(metrics: Mapping[str, Any], keys: Sequence[str]) -> str:
    parts = []
    for key in keys:
        if key in metrics:
            value = metrics[key]
            parts.append(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


def print_summary(name: str, results: Sequence[CaseResult], metric_keys: Sequence[str]) -> None:
    """One screen: a line per case, then failed checks and known failures."""
    backend = results[0].backend.name if results else "no case"
    print(f"\n== {name} on {backend} (pynenc {PYNENC_VERSION}) ==")
    for r in results:
        print(
            f"  {r.case.label:<28} {r.outcome.upper():<6} {r.seconds:6.1f}s  "
            f"{_format_metrics(r.metrics, metric_keys)}"
        )
    for r in results:
        for note in r.notes:
            print(f"  note [{r.case.label}] {note}")
        if r.error:
            print(f"  ERROR [{r.case.label}] {r.error.splitlines()[-1]}")
        for check in r.checks:
            if check.ok and check.name not in r.expected:
                continue
            known = r.expected.get(check.name)
            tag = ("XPASS" if check.ok else "xfail") if known else "FAIL"
            print(f"  {tag} [{r.case.label}] {check.name}: {check.detail}")
            if known:
                print(f"        known: {known.describe()}")


CaseRunner = Callable[[Case, Options, CaseResult], None]


#: The check a case that raised fails: a backend can list it as a known failure.
CASE_RUNS = "the case runs to its end"


def run_case(case: Case, opts: Options, body: CaseRunner) -> CaseResult:
    """Run one case; an exception fails :data:`CASE_RUNS` (an ``error`` outcome)."""
    result = CaseResult(case, opts.backend)
    start = time.time()
    try:
        body(case, opts, result)
    except KeyboardInterrupt:
        raise
    except Exception as error:
        result.error = traceback.format_exc()
        result.add(Check(CASE_RUNS, False, f"{type(error).__name__}: {error}"[:300]))
    finally:
        result.seconds = time.time() - start
        cleanup_processes()
    return result


@contextlib.contextmanager
def app_env(case: Case, opts: Options, result: CaseResult, **kwargs: Any) -> Iterator[AppEnv]:
    """An :class:`AppEnv` closed on exit; logs kept under ``--out`` unless the case passed."""
    env = AppEnv(case, opts, **kwargs)
    try:
        yield env
    finally:
        env.stop_all()
        if (journal_check := check_journal_mode(env)) is not None:
            result.add(journal_check)
        keep = None
        if result.error or result.outcome != "pass" or sys.exc_info()[0] is not None:
            keep = opts.out / "logs" / case.label.replace("/", "_")
        env.close(keep)


def main(
    name: str,
    description: str,
    runner_types: Sequence[str],
    plan: Callable[[Options], list[Case]],
    body: CaseRunner,
    *,
    metric_keys: Sequence[str] = (),
    argv: Sequence[str] | None = None,
    quick_runners: Sequence[str] | None = None,
) -> int:
    """Entry point of a scenario script; the exit status is 0 unless a case failed."""
    opts = parse_options(name, description, runner_types, argv, quick_runners)
    install_cleanup()
    opts.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: list[CaseResult] = []
    try:
        for case in plan(opts):
            results.append(run_case(case, opts, body))
    finally:
        cleanup_processes()
        document = {
            "scenario": name,
            "pynenc_version": PYNENC_VERSION,
            "python": sys.version.split()[0],
            "backend": opts.backend.name,
            "options": {
                "quick": opts.quick,
                "backend": opts.backend_spec,
                "runners": opts.runners,
                "out": str(opts.out),
            },
            "seconds": round(time.time() - started, 2),
            "cases": [r.to_json() for r in results],
        }
        (opts.out / f"{name}.json").write_text(json.dumps(document, indent=1, default=str))
        print_summary(name, results, metric_keys)
    bad = [r for r in results if r.outcome in ("fail", "xpass", "error")]
    return 1 if bad else 0

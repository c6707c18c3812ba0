"""A scenario's app environment: a work dir holding the generated app and its config,
the runners and clients started in it, and the records read back from it.

The work dir holds ``scenario_app.py`` (from ``app_template.py``) and
``config.json``: the backend description's spec and the scenario's settings,
which every process layers over the app that the description builds in the work
dir. Task probes go to ``probes/`` (see ``probes.py``).
"""

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from pynenc import context
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.identifiers.invocation_id import generate_invocation_id
from pynenc.invocation.dist_invocation import DistributedInvocation, TaskInvocation
from pynenc.invocation.status import InvocationStatus
from pynenc.runner.runner_context import RunnerContext

from pynenc_contract.kit import path_to
from pynenc_scenarios.cases import RUNNER_TYPES, Case, Options
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.processes import PYTHON, ManagedProcess, StartGate, child_environment, tail
from pynenc_scenarios.profiling import Sampler
from pynenc_scenarios.records import APP_MODULE, Records

APP_TEMPLATE = Path(__file__).with_name("app_template.py")

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

#: No cron fires in the runners, for scenarios that run recovery themselves. A
#: once-a-year schedule is not enough: a cron that never ran fires at the first
#: atomic-service check, whatever its schedule (pynenc-11).
SCHEDULER_OFF = {"trigger": {"enable_scheduler": False}}


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


class AppEnv(Records):
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
        self.samplers: list[Sampler] = []
        self.config = self._config(slots, config or {})
        document = {"backend": opts.backend_spec, "settings": self.config}
        (self.workdir / "config.json").write_text(json.dumps(document, indent=1))
        shutil.copy(APP_TEMPLATE, self.workdir / f"{APP_MODULE}.py")
        (self.workdir / "probes").mkdir()
        self.module = self._import_module()
        super().__init__(self.module.app, self.workdir / "probes")

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
        """The work dir's app module, imported under its own name (as runners import it)."""
        spec = importlib.util.spec_from_file_location(APP_MODULE, self.workdir / f"{APP_MODULE}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[APP_MODULE] = module
        spec.loader.exec_module(module)
        return module

    def store_final(self, task: str, count: int, batch: int = 1000) -> None:
        """Store ``count`` invocations of ``task`` (``task(index)``) finished with SUCCESS.

        Through pynenc's API, so on any backend, and as pynenc leaves them: each batch
        is stored in the state backend, registered and reported (but not routed, so no
        runner takes them); then each one is walked to RUNNING and given its result the
        way a runner does, with its histories. The filling runner sends heartbeats as it
        goes, so that runners already started do not recover what it holds RUNNING.
        """
        orchestrator, state_backend = self.app.orchestrator, self.app.state_backend
        runner_ctx = RunnerContext("ScenarioFill")
        function = getattr(self.module, task)
        for first in range(0, count, batch):
            orchestrator.register_runner_heartbeats([runner_ctx.runner_id])
            indexes = range(first, min(first + batch, count))
            invocations: list[DistributedInvocation[Any, Any]] = [
                # stored_in_backend: the batch is stored at once below, not each at creation
                TaskInvocation(
                    call=Call(function, Arguments({"index": index})),
                    invocation_id=generate_invocation_id(),
                    parent_invocation_id=None,
                    workflow=None,
                    stored_in_backend=True,
                )
                for index in indexes
            ]
            state_backend.upsert_invocations(invocations)
            record = orchestrator._register_new_invocations(invocations, runner_ctx.runner_id)
            state_backend.add_histories(invocations, record, runner_ctx)
            ids = [invocation.invocation_id for invocation in invocations]
            self.app.trigger.report_tasks_status(ids, record.status)
            for index, invocation in zip(indexes, invocations, strict=True):
                if index % 100 == 0:
                    orchestrator.register_runner_heartbeats([runner_ctx.runner_id])
                for status in path_to(InvocationStatus.RUNNING):
                    orchestrator.set_invocation_status(invocation.invocation_id, status, runner_ctx)
                orchestrator.set_invocation_result(invocation, index, runner_ctx)

    # -- processes ---------------------------------------------------------
    def start_runner(self, prefix: Sequence[str] = ()) -> ManagedProcess:
        """Start ``python -m pynenc --app scenario_app.app runner start``, after
        ``prefix`` (``ip netns exec NAME``: on a host of ``network.py``)."""
        index = len(self.processes)
        extra = {**self.runner_env, "PYNENC__RUNNER_CLS": self.case.runner_type}
        process = ManagedProcess(
            f"runner-{index}",
            [*prefix, PYTHON, "-m", "pynenc", "--app", f"{APP_MODULE}.app", "runner", "start"],
            self.workdir,
            child_environment(extra),
            self.workdir / f"runner-{index}.log",
        )
        self.processes.append(process)
        return process

    def start_runners(self, count: int, timeout: float = 60.0) -> list[ManagedProcess]:
        """Start ``count`` runners at once; return when they and their workers are up.

        Readiness is seen in the orchestrator: each runner parent and each
        pre-started worker process registers a heartbeat. With ``--profile``, each
        runner is sampled from then on, until :meth:`stop_all`.
        """
        workers = prestarted_workers(self.case.runner_type, self.slots)
        before = {r.runner_id for r in self.active_runners(parents_only=False)}
        started = [self.start_runner() for _ in range(count)]
        deadline = time.time() + timeout
        while time.time() < deadline:
            new = {r.runner_id for r in self.active_runners(parents_only=False)} - before
            if len(new) >= count * (1 + workers):
                if self.opts.profile is not None:
                    out = self.opts.profile / self.case.label.replace("/", "_")
                    self.samplers += [Sampler(p, out / f"{p.name}.txt") for p in started]
                return started
            for process in started:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited: {tail(process.log_path)}")
            time.sleep(0.1)
        raise TimeoutError(f"{count} runners sent no heartbeat in {timeout:g}s")

    def start_identified_runner(
        self, timeout: float = 60.0, prefix: Sequence[str] = ()
    ) -> ManagedProcess:
        """Start a runner (see :meth:`start_runner`) and wait for its first heartbeat, to
        learn its runner id."""
        before = {r.runner_id for r in self.active_runners()}
        process = self.start_runner(prefix)
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
                child_environment({}),
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
        """Stop the samplers, then every runner (SIGTERM, then SIGKILL of the group)."""
        for sampler in self.samplers:
            sampler.stop()
        self.samplers.clear()
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


@contextlib.contextmanager
def app_env(case: Case, opts: Options, result: CaseResult, **kwargs: Any) -> Iterator[AppEnv]:
    """An :class:`AppEnv` closed on exit; logs kept under ``--out`` unless the case passed."""
    env = AppEnv(case, opts, **kwargs)
    try:
        yield env
    finally:
        env.stop_all()
        for app_check in opts.backend.app_checks:
            if (check := app_check(env.app)) is not None:
                result.add(check)
        keep = None
        if result.error or result.outcome != "pass" or sys.exc_info()[0] is not None:
            keep = opts.out / "logs" / case.label.replace("/", "_")
        env.close(keep)

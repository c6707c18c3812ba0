"""A pynenc orchestrator on SQLite for several processes on one host.

The class is selected in pynenc's config as ``PynencSQLiteOrchestrator``; its
public API follows ``pynenc.orchestrator.sqlite_orchestrator`` (``Tables``,
``SQLiteBlockingControl``, ``SQLiteOrchestrator``). pynenc picks classes by
bare class name, and pynenc has its own ``SQLiteOrchestrator``: the distinct
name is what makes the choice deterministic when both are imported.

The class holds pynenc's flows; the SQL lives in one part per concern, each over
the app's rows: :mod:`.registration` (registration and look-ups), :mod:`.status`
(status changes), :mod:`.blocking`, :mod:`.runners` (runners and recovery) and
:mod:`.atomic_service`.
"""

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cached_property, partial
from time import time
from typing import TYPE_CHECKING, Any

from pynenc import context
from pynenc.conf.config_task import ConcurrencyControlType
from pynenc.exceptions import (
    InvocationConcurrencyWithDifferentArgumentsError,
    InvocationStatusOwnershipError,
    InvocationStatusTransitionError,
)
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.dist_invocation import DistributedInvocation, ReusedInvocation
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    get_status_definition,
    status_record_transition,
)
from pynenc.orchestrator.atomic_service import (
    ActiveRunnerInfo,
    AtomicServiceExecution,
    AtomicServiceExecutionStatus,
)
from pynenc.orchestrator.base_orchestrator import BaseBlockingControl, BaseOrchestrator

from pynenc_sqlite.broker.sqlite_broker import PynencSQLiteBroker
from pynenc_sqlite.conf.config_database import DatabaseSettings, load_config
from pynenc_sqlite.conf.config_orchestrator import ConfigOrchestratorPynencSQLite
from pynenc_sqlite.exceptions import SQLiteOrchestratorError
from pynenc_sqlite.orchestrator.atomic_service import RUNNING, AtomicServiceLog
from pynenc_sqlite.orchestrator.blocking import SQLiteBlockingControl
from pynenc_sqlite.orchestrator.registration import Registration
from pynenc_sqlite.orchestrator.runners import Runners
from pynenc_sqlite.orchestrator.status import StatusStore
from pynenc_sqlite.retention import Retention
from pynenc_sqlite.rows import AppRows, OnDatabase, open_database
from pynenc_sqlite.schema import Tables
from pynenc_sqlite.state_backend.sqlite_state_backend import PynencSQLiteStateBackend

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.call import Call
    from pynenc.identifiers.call_id import CallId
    from pynenc.identifiers.invocation_id import InvocationId
    from pynenc.orchestrator.atomic_service import AtomicServiceRun
    from pynenc.runner.runner_context import RunnerContext
    from pynenc.task import Task

#: How long one retention pass may run before it leaves the rest to the next one.
RETENTION_PASS_SECONDS = 2.0

__all__ = [
    "PynencSQLiteOrchestrator",
    "SQLiteBlockingControl",
    "SQLiteOrchestrator",
    "Tables",
]


class PynencSQLiteOrchestrator(OnDatabase, BaseOrchestrator):
    """Orchestrator state in one SQLite file shared by the processes of a host.

    Several apps may share the file: every row carries the app's key, and
    look-ups and purges only see their own app. The orchestrator opens the app's
    database; the app's other pynenc-sqlite components on the same file join it.
    """

    def __init__(self, app: "Pynenc") -> None:
        super().__init__(app)
        database = open_database(app, DatabaseSettings.from_config(self.conf, app.app_id))
        self.rows = AppRows.of_app(database, app.app_id)
        self.registration = Registration(self.rows)
        self.statuses = StatusStore(self.rows, self._task)
        self.runners = Runners(self.rows)
        self.atomic_service = AtomicServiceLog(self.rows)
        self.retention = Retention(self.rows)
        self._blocking_control = SQLiteBlockingControl(app, self.rows)
        #: Final statuses (with what serializes their outcomes) that a storage error kept
        #: out of the file, stored again by this process later (see :meth:`_finish`).
        self._unfinished: dict[
            InvocationId, tuple[InvocationStatus, RunnerContext, Callable[[], str]]
        ] = {}
        self._unfinished_lock = threading.Lock()

    @cached_property
    def conf(self) -> ConfigOrchestratorPynencSQLite:
        return load_config(
            ConfigOrchestratorPynencSQLite, self.app.config_values, self.app.config_filepath
        )

    @property
    def app_key(self) -> int:
        """This app's key in the shared database file."""
        return self.rows.app_key

    @property
    def blocking_control(self) -> BaseBlockingControl:
        return self._blocking_control

    def _task(self, task_id: str) -> "Task[Any, Any]":
        return self.app.get_task(TaskId.from_key(task_id))

    # -- registration and look-ups -----------------------------------------
    def _register_new_invocations(
        self,
        invocations: list["DistributedInvocation[Any, Any]"],
        runner_id: str | None = None,
    ) -> InvocationStatusRecord:
        """Insert invocations as REGISTERED (no owner); existing ones are left as they are."""
        record = status_record_transition(None, InvocationStatus.REGISTERED, runner_id)
        self.registration.register(invocations, record)
        return record

    def route_call(self, call: "Call[Any, Any]") -> "DistributedInvocation[Any, Any]":
        """Route a call; with registration concurrency, look-up and registration are one
        write transaction, so concurrent clients cannot both register the same call.

        The base class looks up, registers and indexes arguments in separate calls.
        Here a candidate invocation is stored in the state backend first (it stays
        unused when an existing one is reused), then the oldest matching REGISTERED
        invocation is found, or the candidate inserted, under ``BEGIN IMMEDIATE``.
        """
        mode = call.task.conf.registration_concurrency
        if mode == ConcurrencyControlType.DISABLED:
            return super().route_call(call)
        app_id = self.app.app_id
        candidate = DistributedInvocation.from_parent(
            call,
            parent_invocation=context.get_dist_invocation_context(app_id),
            parent_event_id=context.get_trigger_event_context(app_id),
        )
        self.app.state_backend.upsert_invocations([candidate])
        runner_ctx = context.get_or_create_runner_context(app_id)
        record = status_record_transition(None, InvocationStatus.REGISTERED, runner_ctx.runner_id)
        found = self.registration.register_unless_registered(
            candidate, call.serialized_args_for_concurrency_control(mode), record
        )
        if found is None:  # the rest of BaseOrchestrator.register_new_invocations
            self.app.state_backend.add_histories([candidate], record, runner_ctx)
            self.app.trigger.report_tasks_status([candidate.invocation_id], record.status)
            self.route_invocations([candidate])
            return candidate
        existing = self.app.state_backend.get_invocation(found)
        if existing.call.call_id == call.call_id:
            return ReusedInvocation(existing)
        if call.task.conf.on_diff_non_key_args_raise:
            raise InvocationConcurrencyWithDifferentArgumentsError.from_call_mismatch(
                existing_invocation=existing, new_call=call
            )
        return ReusedInvocation(existing, call.arguments)

    def get_existing_invocations(
        self,
        task: "Task[Any, Any]",
        key_serialized_arguments: dict[str, str] | None = None,
        statuses: list[InvocationStatus] | None = None,
    ) -> Iterator["InvocationId"]:
        """Invocations of ``task`` matching every argument and any status, oldest first."""
        yield from self.registration.existing(task, key_serialized_arguments, statuses)

    def get_task_invocation_ids(self, task_id: "TaskId") -> Iterator["InvocationId"]:
        """All invocations of a task, oldest first."""
        yield from self.registration.of_task(task_id)

    def get_call_invocation_ids(self, call_id: "CallId") -> Iterator["InvocationId"]:
        """All invocations of a call, oldest first."""
        yield from self.registration.of_call(call_id)

    def get_invocation_ids_paginated(
        self,
        task_id: "TaskId | None" = None,
        statuses: list[InvocationStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list["InvocationId"]:
        """A page of invocations, newest registration first (stable while statuses change)."""
        return self.registration.page(task_id, statuses, limit, offset)

    def count_invocations(
        self,
        task_id: "TaskId | None" = None,
        statuses: list[InvocationStatus] | None = None,
    ) -> int:
        """Number of invocations matching the filters."""
        return self.registration.count(task_id, statuses)

    def filter_by_status(
        self,
        invocation_ids: list["InvocationId"],
        status_filter: frozenset[InvocationStatus],
    ) -> list["InvocationId"]:
        """The given ids whose status is in ``status_filter``, in the given order."""
        return self.registration.filter_by_status(invocation_ids, status_filter)

    def index_arguments_for_concurrency_control(
        self, invocation: "DistributedInvocation[Any, Any]"
    ) -> None:
        """Store the invocation's serialized arguments for argument look-ups."""
        self.registration.index_arguments(invocation)

    # -- status ---------------------------------------------------------------
    def _atomic_status_transition(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_id: str | None = None,
    ) -> InvocationStatusRecord:
        """Validate with pynenc's rules and write, atomically (see :class:`.StatusStore`).

        :raises KeyError: the invocation is not registered in this app.
        :raises InvocationStatusTransitionError: the status rules forbid it.
        :raises InvocationStatusOwnershipError: the ownership rules forbid it.
        """
        record, _ = self.statuses.transition(
            invocation_id, status, runner_id, enforce_running=False
        )
        return record

    def set_invocation_status(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_ctx: "RunnerContext",
    ) -> None:
        """As the base class; moving to RUNNING also enforces running concurrency, and
        with pynenc-sqlite's state backend on this database the history entry is
        written in the status change's transaction.

        pynenc checks ``running_concurrency`` in one call and writes RUNNING in the
        next, so two runners can both pass the check. Here the check and the write
        are one transaction: when another invocation of the task (with the same key
        arguments) is RUNNING, the invocation is REROUTED to the broker instead, and
        the InvocationStatusTransitionError that pynenc's own deferral path raises
        (REROUTED -> RUNNING) tells the runner not to run it.

        pynenc writes a status, then its history entry: a process killed in between
        leaves a history without the status. With the history in the same
        transaction, a kill leaves both or neither.
        """
        self._set_status(invocation_id, status, runner_ctx)

    def set_invocation_result(
        self,
        invocation: "DistributedInvocation[Any, Any]",
        result: Any,
        runner_ctx: "RunnerContext",
    ) -> None:
        """As the base class, but only a runner allowed to finish the invocation stores its
        result (see :meth:`_finish`)."""
        serialize = partial(self.app.client_data_store.serialize, result)  # may store a value
        self._finish(invocation.invocation_id, InvocationStatus.SUCCESS, runner_ctx, serialize)
        self.app.trigger.report_invocation_result(invocation, result)

    def set_invocation_exception(
        self,
        invocation: "DistributedInvocation[Any, Any]",
        exception: Exception,
        runner_ctx: "RunnerContext",
    ) -> None:
        """As the base class, but only a runner allowed to finish the invocation stores its
        exception (see :meth:`_finish`)."""
        serialize = partial(self.app.state_backend.serialize_exception, exception)
        self._finish(invocation.invocation_id, InvocationStatus.FAILED, runner_ctx, serialize)
        self.app.trigger.report_invocation_failure(invocation, exception)

    def _finish(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_ctx: "RunnerContext",
        serialize: Callable[[], str],
    ) -> None:
        """Store the outcome of a final ``status`` (a result for SUCCESS, an exception for
        FAILED, as ``serialize`` gives it), and the status, when the status rules allow
        the change.

        pynenc stores the outcome, then the status. A runner that lost the invocation
        meanwhile (paused past the dead timeout while recovery gave its work to another
        runner) would overwrite the new owner's outcome, then be refused the status.
        Here the change is checked first: with pynenc-sqlite's state backend on this
        database the outcome, the status and the history entry are one transaction;
        otherwise the outcome is stored only after the stored record has allowed the
        change, and the status then changes as usual.

        A storage error (a disk full past the busy timeout) would leave the invocation
        RUNNING under a runner that lives on, where recovery never looks: the outcome
        is kept in this process and stored again at its next heartbeat or final
        status, unless the status rules refuse it by then (recovery gave the work to
        another runner, or the runner died and its work was recovered).

        :raises InvocationStatusTransitionError: the status rules forbid the change.
        :raises InvocationStatusOwnershipError: another runner owns the invocation.
        :raises SQLiteOrchestratorError: the database could not store it (kept).
        """
        self._finish_unfinished()
        try:
            self._store_final(invocation_id, status, runner_ctx, serialize)
        except SQLiteOrchestratorError:
            with self._unfinished_lock:  # the first outcome wins: pynenc's next is the error
                self._unfinished.setdefault(invocation_id, (status, runner_ctx, serialize))
            raise

    def _finish_unfinished(self) -> None:
        """Store again the final statuses kept by :meth:`_finish`; stop at the first that
        the database still refuses."""
        with self._unfinished_lock:
            kept = list(self._unfinished.items())
        for invocation_id, (status, runner_ctx, serialize) in kept:
            try:
                self._store_final(invocation_id, status, runner_ctx, serialize)
            except (InvocationStatusTransitionError, InvocationStatusOwnershipError, KeyError):
                pass  # finished, recovered or purged meanwhile
            except SQLiteOrchestratorError:
                return
            with self._unfinished_lock:
                self._unfinished.pop(invocation_id, None)

    def _store_final(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_ctx: "RunnerContext",
        serialize: Callable[[], str],
    ) -> None:
        """The outcome and the final status, if the status rules allow (see _finish)."""
        kind = "result" if status == InvocationStatus.SUCCESS else "exception"
        serialized = serialize()  # may store a large value in the client data store
        if self._state_backend_on_this_database() is not None:
            self._set_status(invocation_id, status, runner_ctx, (kind, serialized))
            return
        status_record_transition(self.statuses.record(invocation_id), status, runner_ctx.runner_id)
        store = getattr(self.app.state_backend, f"_set_{kind}")
        store(invocation_id, serialized)
        self.set_invocation_status(invocation_id, status, runner_ctx)

    def _set_status(
        self,
        invocation_id: "InvocationId",
        status: InvocationStatus,
        runner_ctx: "RunnerContext",
        outcome: tuple[str, str] | None = None,
    ) -> None:
        """:meth:`set_invocation_status`; with pynenc-sqlite's state backend on this
        database, ``outcome`` (kind and serialized data) is stored in the transaction."""
        state = self._state_backend_on_this_database()
        if status != InvocationStatus.RUNNING and state is None:
            super().set_invocation_status(invocation_id, status, runner_ctx)
            return
        if state is None:
            record, blocked = self.statuses.transition(
                invocation_id, status, runner_ctx.runner_id, enforce_running=True
            )
            self.app.state_backend.add_history(invocation_id, record, runner_ctx)
        else:
            state.store_runner_context(runner_ctx)

            def also(tx: sqlite3.Connection, stored: InvocationStatusRecord) -> None:
                state.add_history_in(tx, invocation_id, stored, runner_ctx.runner_id)
                if outcome is not None:
                    state.set_outcome_in(tx, invocation_id, *outcome)

            record, blocked = self.statuses.transition(
                invocation_id,
                status,
                runner_ctx.runner_id,
                enforce_running=status == InvocationStatus.RUNNING,
                also=also,
            )
            if record.status.is_final():
                self.release_waiters(invocation_id)
        self.app.trigger.report_tasks_status([invocation_id], record.status)
        if not blocked:
            self.app.logger.info(f"invocation:{invocation_id} status:{status.value}")
            return
        self.route_invocation(self.app.state_backend.get_invocation(invocation_id))
        self.app.logger.info(f"invocation:{invocation_id} rerouted by running concurrency")
        raise InvocationStatusTransitionError(
            from_status=record.status,
            to_status=status,
            allowed_statuses=get_status_definition(record.status).allowed_transitions,
        )

    def _state_backend_on_this_database(self) -> PynencSQLiteStateBackend | None:
        """The app's state backend when it is pynenc-sqlite's on this very database."""
        state = self.app.state_backend
        if isinstance(state, PynencSQLiteStateBackend) and state.database is self.database:
            return state
        return None

    def get_invocation_status(self, invocation_id: "InvocationId") -> InvocationStatus:
        """The stored status.

        :raises KeyError: the invocation is not registered in this app.
        """
        return self.statuses.status(invocation_id)

    def get_invocation_status_record(self, invocation_id: "InvocationId") -> InvocationStatusRecord:
        """The stored status, owner and time of the last change.

        :raises KeyError: the invocation is not registered in this app.
        """
        return self.statuses.record(invocation_id)

    # -- retries and purge ----------------------------------------------------
    def increment_invocation_retries(self, invocation_id: "InvocationId") -> None:
        """Add one retry atomically.

        :raises KeyError: the invocation is not registered in this app.
        """
        self.registration.add_retry(invocation_id)

    def get_invocation_retries(self, invocation_id: "InvocationId") -> int:
        """Retries so far; 0 for an invocation that is not registered."""
        return self.registration.retries(invocation_id)

    def set_up_invocation_auto_purge(self, invocation_id: "InvocationId") -> None:
        """Mark the invocation for removal once the auto-purge period has passed."""
        self.registration.mark_for_auto_purge(invocation_id)

    def auto_purge(self) -> None:
        """Remove the invocations marked (final) longer ago than
        ``auto_final_invocation_purge_hours``, with everything stored about them."""
        self.retention.purge(self.conf.auto_final_invocation_purge_hours * 3600)

    def purge(self) -> None:
        """Remove every row of this app; other apps in the same file are untouched."""
        self.rows.delete_all(Tables.APP_SCOPED)

    # -- runners and recovery -----------------------------------------------
    def register_runner_heartbeats(
        self,
        runner_ids: list[str],
        can_run_atomic_service: bool = False,
        consumed_queues: Sequence[str] | None = None,
    ) -> None:
        """Create or refresh runners; creation time is kept, queues change only when given.
        Then the final statuses a storage error kept out are stored again."""
        self.runners.heartbeat(runner_ids, can_run_atomic_service, consumed_queues)
        self._finish_unfinished()

    def _get_active_runners(
        self, timeout_seconds: float, can_run_atomic_service: bool | None = None
    ) -> list[ActiveRunnerInfo]:
        """Runners seen within ``timeout_seconds``, by creation time, then runner id."""
        return self.runners.active(timeout_seconds, can_run_atomic_service)

    def get_pending_invocations_for_recovery(self) -> Iterator["InvocationId"]:
        """PENDING invocations older than ``max_pending_seconds``, oldest first."""
        yield from self.runners.pending_for_recovery(self.app.conf.max_pending_seconds)

    def _get_running_invocations_for_recovery(
        self, timeout_seconds: float
    ) -> Iterator["InvocationId"]:
        """RUNNING invocations whose owner sent no heartbeat within ``timeout_seconds``."""
        yield from self.runners.running_for_recovery(timeout_seconds)

    # -- atomic service -------------------------------------------------------
    def record_atomic_service_execution_start(
        self,
        atomic_service_run: "AtomicServiceRun",
        started_at: datetime | None,
        status: AtomicServiceExecutionStatus = RUNNING,
        reason: str = "",
    ) -> bool:
        """Insert an execution record; for RUNNING, the cluster-wide gate.

        At most one RUNNING record exists per app; one of a runner that sent no
        heartbeat for ``runner_considered_dead_after_minutes`` is closed as ABANDONED.
        A refused claim is stored as a zero-width BLOCKED row.
        """
        dead_after = self.app.conf.runner_considered_dead_after_minutes * 60
        accepted, stored = self.atomic_service.start(
            atomic_service_run, started_at, status, reason, dead_after
        )
        if stored != RUNNING:
            self.purge_atomic_service_executions()
        return accepted

    def finalize_atomic_service_execution(
        self,
        atomic_service_run: "AtomicServiceRun",
        end_time: datetime,
        status: AtomicServiceExecutionStatus,
        reason: str = "",
    ) -> None:
        """Close the RUNNING record; the first terminal status wins. The service's
        follow-ups (purges, recovery, retention) run only while the run still held the
        service: not after a pause past the dead timeout let another runner take it."""
        if not self.atomic_service.finish(atomic_service_run, end_time, status, reason):
            self.app.logger.warning(
                f"atomic service run {atomic_service_run.atomic_service_id.atomic_service_run_id}"
                " had lost the service before it ended (no heartbeat past the dead timeout);"
                " its recovery and retention are skipped"
            )
            return
        self.purge_atomic_service_executions()
        if self.conf.recover_after_atomic_service:
            self._recover_invocations()
        self._retention_pass()

    def _recover_invocations(self) -> None:
        """pynenc's two recovery tasks, run after every atomic-service run rather than
        from their crons (at most once a minute): PENDING invocations older than
        ``max_pending_seconds``, and the RUNNING ones of runners dead for
        ``runner_considered_dead_after_minutes``, go back to a queue.

        An invocation that another recovery took, or that moved on meanwhile, is left
        alone: each status change applies only over the status it was read with.
        """
        runner_ctx = context.get_or_create_runner_context(self.app.app_id)
        recovered = set()
        for found, status in (
            (self.get_pending_invocations_for_recovery, InvocationStatus.PENDING_RECOVERY),
            (self.get_running_invocations_for_recovery, InvocationStatus.RUNNING_RECOVERY),
        ):
            for invocation_id in list(found()):
                try:
                    self.set_invocation_status(invocation_id, status, runner_ctx)
                except (InvocationStatusTransitionError, InvocationStatusOwnershipError):
                    continue
                recovered.add(invocation_id)
                self.app.logger.info(f"invocation:{invocation_id} recovered ({status.value})")
        self.reroute_invocations(recovered, runner_ctx)
        self._queue_unqueued_again()

    def _queue_unqueued_again(self) -> None:
        """With pynenc-sqlite's broker on this file: queue again the REGISTERED invocations
        whose message a runner took before it stopped (or failed to write) its claim,
        which nothing else would ever run. A message queued twice is harmless: the
        claim applies once."""
        broker = self.app.broker
        if not isinstance(broker, PynencSQLiteBroker) or broker.database is not self.database:
            return
        stale = time() - self.app.conf.max_pending_seconds
        unqueued = self.registration.unqueued(registered_before=stale)
        for invocation_id in unqueued:
            self.app.logger.warning(
                f"invocation:{invocation_id} was REGISTERED with no message in its queue "
                "(a runner took it and stopped before its claim): queued again"
            )
        self.route_invocations([self.app.state_backend.get_invocation(i) for i in unqueued])

    def _retention_pass(self) -> None:
        """After an atomic-service run: the stack's retention pass, when it is due."""
        interval = self.conf.retention_interval_minutes * 60
        if interval <= 0:
            return
        purged = self.retention.pass_if_due(
            interval, self.conf.auto_final_invocation_purge_hours * 3600, RETENTION_PASS_SECONDS
        )
        if purged is not None and (purged.invocations or purged.values):
            self.app.logger.info(
                f"retention: removed {purged.invocations} final invocations and "
                f"{purged.values} values, freed {purged.pages_freed} pages"
            )

    def get_active_atomic_service_executions(self) -> list[AtomicServiceExecution]:
        """RUNNING executions, most recently started first."""
        return self.atomic_service.active()

    def get_atomic_service_executions_in_timerange(
        self,
        start_time: datetime,
        end_time: datetime,
        limit: int = 1000,
        *,
        runner_id: str | None = None,
        min_duration_seconds: float = 0.0,
    ) -> list[AtomicServiceExecution]:
        """Executions overlapping [start_time, end_time], newest start first."""
        return self.atomic_service.in_range(
            start_time, end_time, limit, runner_id, min_duration_seconds
        )

    def purge_atomic_service_executions(self) -> int:
        """Drop finished records past the retention time, then the oldest beyond the cap.

        RUNNING records and records referenced by trigger history are kept.
        """
        conf = self.app.conf
        return self.atomic_service.purge(
            float(conf.atomic_service_execution_retention_minutes),
            int(conf.atomic_service_execution_max_records),
            self.app.trigger.get_referenced_atomic_service_run_ids(),
        )


#: The name of pynenc's own class, for code that imports it from here.
SQLiteOrchestrator = PynencSQLiteOrchestrator

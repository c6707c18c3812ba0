"""Crash recovery: SIGKILL, pause or partition a runner while its tasks run; another
runner recovers them.

A victim runner (2 slots) gets 2 tasks. Once it runs at least one, it is
killed: variant ``group`` kills its whole process group, ``parent-only`` only
its parent process (workers survive as orphans; their tasks last longer than
the dead timeout, so that recovery happens while the orphans still run). Variant
``pause`` stops its whole process group instead (SIGSTOP, the nemesis), until the
survivor has finished every task, then continues it: its bodies end, and it tries
to store their results over the survivor's. A survivor of the same type starts
right after the kill; past the dead timeout the victim's RUNNING invocations are
recovered and the survivor runs them again. pynenc's recovery cron fires at most
once a minute: in the full form, the ``group`` case of the first runner type
waits for the survivor's cron; otherwise the scenario runs the same recovery code
(pynenc's core-task bodies) itself as soon as the victim is past the dead timeout,
and says so.

Invariants: every task ends SUCCESS (nothing lost); histories replay; no
invocation ran in two processes at the same time; only invocations the victim
was running ran twice (counted); nothing a paused victim writes after it was
continued is stored, status or result; no "database is locked" in the logs.

Variant ``partition``, for backends with a server: the backend's servers, the victim
and the survivor each run on their own host (a network namespace, ``network.py``);
the nemesis cuts the victim's link instead of pausing it, and restores it once the
survivor has finished every task. Its bodies run on meanwhile (they reach the
files of the case), but nothing reaches the servers; the case waits for the victim
to heartbeat again, then checks that nothing it stamped after the cut is stored.
Backends whose processes share files and no server skip it, with the reason.
"""

import signal
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord

from pynenc_contract import Check
from pynenc_contract.services import services_started
from pynenc_scenarios.appenv import SCHEDULER_OFF, AppEnv, app_env
from pynenc_scenarios.cases import Case, Options
from pynenc_scenarios.checks import (
    check_all_succeeded,
    check_histories_replay,
    check_no_locked,
    overlaps,
)
from pynenc_scenarios.network import Host, hosts_network, network_unavailable
from pynenc_scenarios.outcome import CaseResult
from pynenc_scenarios.processes import ManagedProcess
from pynenc_scenarios.records import Execution, HistoryEntry
from pynenc_scenarios.scenario import Scenario

NAME = "crash_recovery"
#: The victim gets as many tasks as it has slots; the survivor starts after the kill,
#: idle, so that it re-runs recovered tasks at once.
SLOTS = TASKS = 2
DEAD_AFTER_MINUTES = 0.05
TASK_SECONDS = {"group": 1.0, "parent-only": 5.0, "pause": 1.0, "partition": 1.0}
#: Faults the victim outlives: it comes back, and must not store anything then.
OUTLIVED = ("pause", "partition")
RECONNECT_TIMEOUT = 60.0
#: Runner types whose workers are processes (a parent-only kill leaves orphans);
#: the quick form keeps the one whose orphans also take new work.
PARENT_ONLY = {
    "quick": ("PersistentProcessRunner",),
    "full": ("MultiThreadRunner", "ProcessRunner", "PersistentProcessRunner"),
}


def plan(opts: Options) -> list[Case]:
    """Group kill for every runner type; pause and partition for every one (the quick
    form: the first); parent-only kill where workers are processes."""
    parent_only = PARENT_ONLY["quick" if opts.quick else "full"]
    faulted = opts.runners[:1] if opts.quick else opts.runners
    cases = []
    for runner in opts.runners:
        variants = [
            "group",
            *(["pause", "partition"] if runner in faulted else []),
            *(["parent-only"] if runner in parent_only else []),
        ]
        cases += [
            Case(
                NAME,
                runner,
                opts.backend.name,
                variant,
                params={
                    "tasks": TASKS,
                    "task_seconds": TASK_SECONDS[variant],
                    "dead_after_minutes": DEAD_AFTER_MINUTES,
                },
            )
            for variant in variants
        ]
    return cases


def run(case: Case, opts: Options, result: CaseResult) -> None:
    """Kill the victim while it runs tasks, recover, check."""
    if case.variant == "partition" and (reason := _partition_unavailable(opts)):
        result.skipped = reason
        return
    with _runner_hosts(case, opts) as hosts:
        _run(case, opts, result, hosts)


def _run(case: Case, opts: Options, result: CaseResult, hosts: list[Host]) -> None:
    dead_seconds = DEAD_AFTER_MINUTES * 60
    wait_cron = not opts.quick and case.variant == "group" and case.runner_type == opts.runners[0]
    config = _config(wait_cron)
    on_host = [host.prefix for host in hosts] or [(), ()]
    with app_env(case, opts, result, slots=SLOTS, config=config) as env:
        victim = env.start_identified_runner(prefix=on_host[0])
        seconds = case.params["task_seconds"]
        ids = [env.module.work(i, seconds).invocation_id for i in range(TASKS)]
        running_on_victim = _wait_victim_running(env, ids, victim.runner_id)
        with _fault(case, victim, hosts, result):
            killed_at = time.time()
            at_kill = {i: env.app.orchestrator.get_invocation_status_record(i) for i in ids}
            env.start_identified_runner(prefix=on_host[1])
            manual: list[float] = []

            def recover() -> None:
                late = time.time() - killed_at > (75 if wait_cron else dead_seconds + 0.5)
                if late and (not manual or time.time() - manual[-1] > 1) and env.recover_now():
                    manual.append(time.time())

            timeout = 60 if opts.quick else 150
            wait = env.wait_final(["work"], TASKS, timeout=timeout, on_tick=recover)
        kill_to_done = time.time() - killed_at
        if case.variant in OUTLIVED:
            if case.variant == "partition":
                _wait_reconnected(env, victim, result)
            env.wait_bodies_ended(_on_victim(env, ids, victim.runner_id), "the victim's bodies")
        env.stop_all()
        stopped_at = time.time()

        runs = [r for r in env.probes() if r.invocation_id in ids]
        owners_at_kill = (record.runner_id or "" for record in at_kill.values())
        roots = env.roots([*(r.runner_id for r in runs), *owners_at_kill])
        on_victim = {id(r) for r in runs if roots.get(r.runner_id, r.runner_id) == victim.runner_id}
        ends = {
            id(r): r.end
            or (killed_at if case.variant == "group" and id(r) in on_victim else stopped_at)
            for r in runs
        }
        twice, unexplained, concurrent = _ran_twice(runs, on_victim, ends)
        histories = env.histories(["work"])
        lost_at_kill = _restore_entries_lost_at_kill(histories, at_kill, victim.runner_id, roots)
        recovered = sum(
            1
            for i in ids
            for e in histories.get(i, [])
            if e.status is InvocationStatus.RUNNING_RECOVERY
        )
        result.metrics.update(
            running_at_kill=len(running_on_victim),
            recovered=recovered,
            ran_twice=len(twice),
            concurrent_twice=len(concurrent),
            seconds_kill_to_done=round(kill_to_done, 1),
            history_lost_at_kill=len(lost_at_kill),
        )
        if lost_at_kill:
            result.notes.append(
                f"history entries lost at the kill (pynenc writes the status, then the history "
                f"entry, separately): {', '.join(lost_at_kill)}; the orchestrator's record at "
                "the kill stands in for them in the replay"
            )
        result.notes.append(f"wait: {wait.describe()}")
        result.notes.append(
            f"recovery run by the scenario {len(manual)}x (pynenc's recovery code, "
            f"{'fallback after 75s' if wait_cron else 'right after the dead timeout'})"
            if manual
            else "recovered by the survivor's own recovery cron"
        )
        result.add(check_all_succeeded(env, ["work"], TASKS))
        result.add(check_histories_replay(histories, ids))
        result.add(
            Check(
                "no invocation ran in two processes at once",
                not concurrent,
                f"{len(concurrent)} of {len(ids)} overlapped (orphan and re-run)",
            )
        )
        result.add(
            Check(
                "only invocations the victim was running ran twice",
                not unexplained,
                f"{len(twice)} ran twice, {len(unexplained)} without a run on the victim",
            )
        )
        if case.variant in OUTLIVED:
            _check_late_writes_refused(
                case, env, result, histories=histories, runs=runs, victim=victim.runner_id
            )
        result.add(check_no_locked(env.logs(), result.metrics))


def _ran_twice(
    runs: list[Execution], on_victim: set[int], ends: dict[int, float]
) -> tuple[list[str], list[str], list[str]]:
    """Invocations whose body ran twice; those of them without a run on the victim; and
    those with body windows overlapping in different pids (``ends``: when each run
    ended, by ``id()``)."""
    by_invocation: dict[str, list[Execution]] = defaultdict(list)
    for r in runs:
        by_invocation[r.invocation_id].append(r)
    twice = [i for i, rs in by_invocation.items() if len(rs) > 1]
    unexplained = [i for i in twice if not any(id(r) in on_victim for r in by_invocation[i])]
    concurrent = [
        i
        for i, rs in by_invocation.items()
        if overlaps([(str(r.pid), r.start, ends[id(r)]) for r in rs])
    ]
    return twice, unexplained, concurrent


def _restore_entries_lost_at_kill(
    histories: dict[str, list[HistoryEntry]],
    at_kill: dict[str, InvocationStatusRecord],
    victim: str,
    roots: dict[str, str],
) -> list[str]:
    """Add to ``histories`` the statuses the victim stored but did not live to log.

    pynenc stores a status in the orchestrator, then logs it in the state backend's
    history: a SIGKILL between the two leaves the history one entry short. The
    orchestrator's record, read right after the kill, is that entry; any other gap
    still breaks the replay.
    """
    restored = []
    for invocation_id, record in at_kill.items():
        owner = record.runner_id or ""
        entries = histories.setdefault(invocation_id, [])
        ts = record.timestamp.timestamp()
        if roots.get(owner, owner) != victim or any(
            entry.status is record.status and entry.ts == ts for entry in entries
        ):
            continue
        entries.append(HistoryEntry(record.status, owner, owner, ts, ts))
        entries.sort(key=HistoryEntry.order)
        restored.append(f"{invocation_id[:8]} {record.status.value}")
    return restored


def _partition_unavailable(opts: Options) -> str:
    """Why the partition variant cannot run on this backend or machine, or ``""``."""
    if not opts.backend.services:
        return (
            "no network to cut: the backend needs no server (its processes share files on one host)"
        )
    return network_unavailable() or ""


@contextmanager
def _runner_hosts(case: Case, opts: Options) -> Iterator[list[Host]]:
    """For a partition, the hosts of the victim and of the survivor, with the backend's
    servers started on a third for the block; otherwise none (this host)."""
    if case.variant != "partition":
        yield []
        return
    with hosts_network() as network:
        servers = network.host("srv")
        with services_started(
            opts.backend, host=servers.address, prefix=servers.prefix, replace=True
        ):
            yield [network.host("r0"), network.host("r1")]


@contextmanager
def _fault(
    case: Case, victim: ManagedProcess, hosts: list[Host], result: CaseResult
) -> Iterator[None]:
    """The case's fault on the victim: killed (its group or its parent only) before the
    block, or paused or cut off for the block."""
    if case.variant == "pause":
        with result.nemesis.paused(victim):
            yield
        return
    if case.variant == "partition":
        with result.nemesis.partitioned(hosts[0]):
            yield
        return
    if case.variant == "group":
        victim.signal_group(signal.SIGKILL)
    else:
        victim.signal_leader(signal.SIGKILL)
    yield


def _wait_reconnected(env: AppEnv, victim: ManagedProcess, result: CaseResult) -> None:
    """Wait until the victim heartbeats again after its link came back (its TCP
    connections resume at their next retransmission); note it if it does not."""
    (cut,) = result.nemesis.faults
    deadline = time.time() + RECONNECT_TIMEOUT
    while victim.runner_id not in {r.runner_id for r in env.active_runners()}:
        if not victim.alive() or time.time() > deadline:
            state = "exited" if not victim.alive() else f"sent none in {RECONNECT_TIMEOUT:g}s"
            result.notes.append(f"the victim's heartbeat after the link came back: {state}")
            return
        time.sleep(0.1)
    result.metrics.update(seconds_to_reconnect=round(time.time() - cut.end, 1))


def _check_late_writes_refused(
    case: Case,
    env: AppEnv,
    result: CaseResult,
    *,
    histories: dict[str, list[HistoryEntry]],
    runs: list[Execution],
    victim: str,
) -> None:
    """Nothing the victim stamped after its fault began is stored, status or result:
    its work was recovered and run by the survivor meanwhile (results are the pid of
    the process that ran the body)."""
    (fault,) = result.nemesis.faults
    entries = [(i, e) for i, found in histories.items() for e in found if e.ts >= fault.start]
    roots = env.roots([*(e.requester for _, e in entries), *(r.runner_id for r in runs)])
    late = [
        f"{invocation_id[:8]} {entry.status.value}"
        for invocation_id, entry in entries
        if roots.get(entry.requester, entry.requester) == victim
    ]
    victim_pids = {r.pid for r in runs if roots.get(r.runner_id, r.runner_id) == victim}
    late += [
        f"{invocation_id[:8]} result"
        for invocation_id in histories
        if env.app.state_backend.get_result(invocation_id) in victim_pids  # type: ignore[arg-type]
    ]
    result.metrics.update(fault_seconds=round(fault.seconds, 1))
    result.add(
        Check(
            "a paused runner's writes after it was continued are refused"
            if case.variant == "pause"
            else "a cut-off runner's writes after its link came back are refused",
            not late,
            f"stored after the resume: {', '.join(late)}" if late else "none stored",
        )
    )


def _on_victim(
    env: AppEnv, ids: Collection[str], victim: str
) -> Callable[[list[Execution]], list[Execution]]:
    """Picks from the probes the bodies of ``ids`` that ran on the victim (or its workers)."""
    return lambda runs: env.bodies_on((r for r in runs if r.invocation_id in ids), victim)


def _config(wait_cron: bool) -> dict[str, object]:
    """Fast dead timeout; the runners' scheduler off unless the case waits for their cron.

    Where the scenario recovers itself, a runner's recovery at the same time would
    race it, and pynenc's recovery gives up at its first conflict (pynenc-9).
    """
    config: dict[str, object] = {"runner_considered_dead_after_minutes": DEAD_AFTER_MINUTES}
    return config if wait_cron else {**config, **SCHEDULER_OFF}


def _wait_victim_running(
    env: AppEnv, ids: list[str], victim: str, timeout: float = 30.0
) -> list[str]:
    """Invocations RUNNING under the victim, once there is at least one and the victim
    has claimed every task.

    A runner killed after it took an invocation from the broker and before it
    claimed it loses that invocation for good (pynenc-10, see README); the scenario
    checks recovery, so it kills only once no task is still REGISTERED.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        records = [env.app.orchestrator.get_invocation_status_record(i) for i in ids]  # type: ignore[arg-type]
        roots = env.roots(record.runner_id or "" for record in records)
        found = [
            invocation_id
            for invocation_id, record in zip(ids, records, strict=True)
            if record.status is InvocationStatus.RUNNING
            and roots.get(record.runner_id or "", record.runner_id or "") == victim
        ]
        if found and all(r.status is not InvocationStatus.REGISTERED for r in records):
            return found
        time.sleep(0.1)
    raise TimeoutError(f"the victim did not run and claim all tasks within {timeout:g}s")


SCENARIO = Scenario(
    plan,
    run,
    headline=(
        "ran_twice",
        "seconds_kill_to_done",
        "running_at_kill",
        "recovered",
        "concurrent_twice",
        "history_lost_at_kill",
        "seconds_to_reconnect",
    ),
)

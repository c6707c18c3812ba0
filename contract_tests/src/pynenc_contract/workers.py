"""Worker processes that start together: spawn them, release them at one barrier,
collect one result from each.

The contract's process races, the benchmark's scale phase and the soak test use
it. A worker is a module-level function ``work(job, barrier) -> result`` (both
picklable); it calls ``barrier.wait(timeout)`` when it is ready, as often as its
phases need (every worker must wait the same number of times). A worker that
raises aborts the barrier, so that no other worker waits for it, and the parent
raises :class:`WorkerError` with its traceback.
"""

import multiprocessing
import pickle
import queue
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Barrier
from typing import Any

from pynenc_contract.backend import search_directories, searched_directories

#: How long a worker waits at the barrier for the others by default.
BARRIER_TIMEOUT_SECONDS = 120.0


class WorkerError(RuntimeError):
    """A worker raised, died without a result, or the workers ran past the deadline."""


def run_workers[Job, Result](
    work: Callable[[Job, Barrier], Result],
    jobs: Sequence[Job],
    *,
    timeout: float,
    poll: Callable[[], None] | None = None,
    name: str = "worker",
) -> list[Result]:
    """Run ``work(job, barrier)`` for each job in its own spawned process.

    :param timeout: seconds from the start until every result must be in.
    :param poll: called about every 0.2 s while the parent waits (to sample a
        file's size, for example).
    :returns: the results in the order of ``jobs``.
    :raises WorkerError: naming the worker that failed first and why.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    results: multiprocessing.Queue[tuple[int, bool, Any]] = context.Queue()
    processes = [
        context.Process(
            target=_worker_main,
            args=(searched_directories(), pickle.dumps((work, job)), index, barrier, results),
            name=f"{name}-{index}",
            daemon=True,
        )
        for index, job in enumerate(jobs)
    ]
    for process in processes:
        process.start()
    try:
        collected = _collect(results, processes, barrier, time.monotonic() + timeout, poll)
    finally:
        barrier.abort()  # releases any worker still waiting, if another one failed
        _stop(processes)
    return [collected[index] for index in range(len(jobs))]


def _worker_main(
    directories: list[str],
    payload: bytes,
    index: int,
    barrier: Barrier,
    results: "multiprocessing.Queue[tuple[int, bool, Any]]",
) -> None:
    """Run one job; ``payload`` is ``(work, job)``, unpickled once the child finds the
    modules its parent found in its current directory (an author's backend)."""
    try:
        search_directories(directories)
        work, job = pickle.loads(payload)
        outcome: tuple[int, bool, Any] = (index, True, work(job, barrier))
    except BaseException:  # reported to the parent, which raises WorkerError
        barrier.abort()
        outcome = (index, False, traceback.format_exc())
    results.put(outcome)


def _collect(
    results: "multiprocessing.Queue[tuple[int, bool, Any]]",
    processes: Sequence[multiprocessing.process.BaseProcess],
    barrier: Barrier,
    deadline: float,
    poll: Callable[[], None] | None,
) -> dict[int, Any]:
    """Every worker's result; after a failure, the others' too (the barrier is broken,
    so they end soon), to name the cause rather than a worker the failure released."""
    collected: dict[int, Any] = {}
    failed: dict[int, str] = {}
    quiet_since: float | None = None
    while len(collected) + len(failed) < len(processes):
        if poll is not None:
            poll()
        try:
            index, ok, value = results.get(timeout=0.2)
        except queue.Empty:
            now = time.monotonic()
            missing = [p for i, p in enumerate(processes) if i not in collected and i not in failed]
            if now > deadline:
                raise WorkerError(
                    f"{len(missing)} of {len(processes)} workers gave no result before the "
                    "deadline" + _failures(processes, failed)
                ) from None
            if all(not p.is_alive() for p in missing):
                # A dead worker's last result may still be in the pipe: wait a moment.
                quiet_since = quiet_since or now
                if now - quiet_since > 2.0:
                    codes = {p.name: p.exitcode for p in missing}
                    raise WorkerError(
                        f"workers exited without a result: {codes}" + _failures(processes, failed)
                    ) from None
            continue
        if ok:
            collected[index] = value
        else:
            failed[index] = value
            barrier.abort()
    if failed:
        raise WorkerError(_failures(processes, failed).removeprefix("; "))
    return collected


def _failures(
    processes: Sequence[multiprocessing.process.BaseProcess], failed: dict[int, str]
) -> str:
    """The failures, causes first: a worker released by another's failure (its barrier
    broke) is named last."""
    if not failed:
        return ""
    ordered = sorted(failed.items(), key=lambda item: "BrokenBarrierError" in item[1])
    first_index, first = ordered[0]
    others = [processes[index].name for index, _ in ordered[1:]]
    also = f" (also failed: {', '.join(others)})" if others else ""
    return f"; {processes[first_index].name} failed{also}:\n{first}"


def _stop(processes: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Join every worker; kill (by its pid, via the process object) any that hangs."""
    for process in processes:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()

"""Worker processes behind one barrier: results in order, failures named, nobody left waiting."""

import os
import re
import time
from multiprocessing.synchronize import Barrier

import pytest

from pynenc_contract.workers import WorkerError, run_workers


def released_at(delay: float, barrier: Barrier) -> tuple[int, float]:
    """Sleep ``delay`` before the barrier; return the pid and when the barrier let it go."""
    time.sleep(delay)
    barrier.wait(30)
    return os.getpid(), time.monotonic()


def fails_or_waits(index: int, barrier: Barrier) -> int:
    """Worker 0 raises before the barrier; the others wait there for it."""
    if index == 0:
        raise ValueError("worker zero gives up")
    barrier.wait(300)
    return index


def dies(index: int, barrier: Barrier) -> int:
    """Ends the process without a result."""
    os._exit(7)


@pytest.mark.timeout(120)
def test_every_worker_is_released_after_the_last_one_arrives() -> None:
    started = time.monotonic()
    results = run_workers(released_at, [0.0, 0.0, 1.0], timeout=60)
    assert len({pid for pid, _ in results}) == 3
    # The two quick workers waited for the one that slept a second before arriving.
    assert all(released - started >= 1.0 for _, released in results)


@pytest.mark.timeout(120)
def test_a_failing_worker_is_named_and_releases_the_others() -> None:
    started = time.monotonic()
    with pytest.raises(WorkerError) as raised:
        run_workers(fails_or_waits, [0, 1, 2], timeout=100)
    # The cause is named first, whichever report arrived first.
    assert str(raised.value).startswith("worker-0 failed (also failed: worker-")
    assert "ValueError: worker zero gives up" in str(raised.value)
    assert time.monotonic() - started < 100  # worker 1 did not wait out its barrier


@pytest.mark.timeout(120)
def test_a_worker_that_dies_without_a_result_is_reported() -> None:
    with pytest.raises(WorkerError, match=re.escape("exited without a result: {'worker-0': 7}")):
        run_workers(dies, [0], timeout=100)

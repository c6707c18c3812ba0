"""The one timing helper every benchmark operation goes through, and its statistics."""

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass
class Timing:
    """Per-call latencies (seconds) of one measured operation.

    ``start`` and ``end`` come from ``time.perf_counter`` (CLOCK_MONOTONIC on
    Linux, comparable across processes of one host).
    """

    latencies: list[float]
    items: int
    start: float
    end: float

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Items per second of time spent inside the calls."""
        busy = math.fsum(self.latencies)
        return self.items / busy if busy > 0 else math.inf

    def percentile(self, q: float) -> float:
        return percentile(self.latencies, q)


def measure[T](
    call: Callable[[T], object],
    args: Iterable[T],
    *,
    items_per_call: int = 1,
    max_seconds: float = math.inf,
) -> Timing:
    """Call ``call(arg)`` for each arg (stopping after ``max_seconds``), timing each call."""
    gc.collect()
    clock = time.perf_counter
    latencies: list[float] = []
    start = clock()
    deadline = start + max_seconds
    for arg in args:
        before = clock()
        call(arg)
        after = clock()
        latencies.append(after - before)
        if after >= deadline:
            break
    return Timing(latencies, len(latencies) * items_per_call, start, clock())


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def median(values: Iterable[float]) -> float:
    """Median of the finite values; NaN when there are none."""
    finite = [value for value in values if math.isfinite(value)]
    return statistics.median(finite) if finite else math.nan

"""Invariants a scenario checks, from the records of its app and its runners' logs."""

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pynenc.exceptions import InvocationStatusError
from pynenc.invocation.status import (
    InvocationStatus,
    InvocationStatusRecord,
    status_record_transition,
)

from pynenc_contract import Check
from pynenc_scenarios.records import Execution, HistoryEntry, Records


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


def check_all_succeeded(env: Records, tasks: Sequence[str], expected: int) -> Check:
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


def check_no_locked(logs: Iterable[Path], metrics: dict[str, Any]) -> Check:
    """No "database is locked" (nor our DatabaseLockedError) in any log.

    pynenc's own PRAGMA warning on a new connection is counted apart, in the
    ``pragma_locked`` metric: it is pynenc's, logged and ignored.
    """
    counts = scan_logs(logs, [*LOCKED_PATTERNS, PRAGMA_LOCKED])
    pragma = counts.pop(PRAGMA_LOCKED)
    counts[LOCKED_PATTERNS[0]] -= pragma
    detail = ", ".join(f"{k!r}: {v}" for k, v in counts.items())
    if pragma:
        metrics["pragma_locked"] = pragma
        detail += f" (and {pragma} of pynenc's PRAGMA warning, not counted)"
    return Check('no "database is locked" in runner logs', not any(counts.values()), detail)

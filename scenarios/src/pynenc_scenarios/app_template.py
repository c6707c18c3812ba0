"""The pynenc app every scenario runs, copied into each work dir as ``scenario_app.py``.

It reads ``config.json`` beside itself: the spec of the backend description, which
builds the app in this directory, and the scenario's settings, layered over it.
Every process (the scenario, its runners and their workers, clients) builds the
app the same way. Task bodies record their execution windows in ``probes/``
(``probes.py``: one probe per start and end, with the invocation id and pid),
which is how the scenarios see what actually ran and how often.

With ``SCENARIO_CLOCK_FILE`` set, a process follows that shared clock (see
:func:`follow_shared_clock`); probes still record the host's time.

The registration scenario's client processes call :func:`register_client`.
"""

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pynenc import Pynenc, context
from pynenc.conf.config_task import ConcurrencyControlType

from pynenc_contract.backend import load_backend
from pynenc_scenarios.probes import Probe, read_probes, write_probe

HERE = Path(__file__).resolve().parent
PROBE_DIR = HERE / "probes"
#: Probe key of an atomic-service run's body.
ATOMIC_SERVICE_KEY = "atomic-service"

_CONFIG = json.loads((HERE / "config.json").read_text())
app: Pynenc = load_backend(_CONFIG["backend"]).new_app(
    _CONFIG["settings"]["app_id"], HERE, _CONFIG["settings"]
)


#: Seconds this process adds to its wall clock, following the shared clock; changed
#: together with the clock, under the lock.
_clock_offset = 0.0
_clock_lock = threading.Lock()


def _host_time() -> float:
    """The host's wall clock, whatever step this process's clock follows."""
    with _clock_lock:
        return time.time() - _clock_offset


def _probe(kind: str, key: str) -> None:
    invocation = context.get_dist_invocation_context(app.app_id)
    runner = context.get_runner_context(app.app_id)
    probe = Probe(
        _host_time(),
        kind,
        invocation.invocation_id if invocation else "",
        key,
        os.getpid(),
        runner.runner_id if runner else "",
    )
    write_probe(PROBE_DIR, probe)


def busy(seconds: float) -> None:
    """Stand for ``seconds`` of work, in 10 ms sleeps: a pause (SIGSTOP) freezes the work
    left, as it would real work, where one long sleep would end at once when continued
    (its deadline past)."""
    for _ in range(round(seconds / 0.01)):
        time.sleep(0.01)


@contextmanager
def probed(key: str) -> Iterator[None]:
    """Record the start and the end of a task body."""
    _probe("start", key)
    yield
    _probe("end", key)


@app.task
def work(index: int, seconds: float) -> int:
    """A task that sleeps; the crash scenario kills or pauses runners while it runs. Its
    result is its process id: whose run stored it."""
    with probed(str(index)):
        busy(seconds)
    return os.getpid()


@app.task
def noop(index: int) -> int:
    """The cheapest task, for throughput."""
    return index


@app.task
def stored(index: int) -> int:
    """Finished invocations a scenario stores beforehand (``--stored``); no runner runs it."""
    return index


@app.task
def fan_child(parent: int, index: int, seconds: float) -> int:
    """A child of ``fan_parent``."""
    with probed(f"{parent}/{index}"):
        busy(seconds)
    return index


@app.task
def fan_parent(index: int, children: int, seconds: float, parents_first: int) -> int:
    """Once ``parents_first`` parents have started (every slot holds one), fan out
    ``children`` children and wait for all of them."""
    with probed(f"parent-{index}"):
        _wait_for_parents(parents_first)
        group = fan_child.parallelize([(index, j, seconds) for j in range(children)])
        return sum(group.results)


def _wait_for_parents(count: int, timeout: float = 60.0) -> None:
    """Wait until ``count`` parents have started (their probes), at most ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probes = read_probes(PROBE_DIR)
        if sum(p.kind == "start" and p.key.startswith("parent-") for p in probes) >= count:
            return
        time.sleep(0.05)


@app.task(
    running_concurrency=ConcurrencyControlType.TASK,
    reroute_on_concurrency_control=True,
)
def exclusive_task(index: int, seconds: float) -> int:
    """At most one invocation of this task may be RUNNING at any time."""
    with probed("task"):
        busy(seconds)
    return index


@app.task(
    running_concurrency=ConcurrencyControlType.KEYS,
    key_arguments=("key",),
    reroute_on_concurrency_control=True,
)
def keyed_task(key: str, index: int, seconds: float) -> int:
    """At most one invocation per ``key`` may be RUNNING at any time."""
    with probed(key):
        busy(seconds)
    return index


@app.task(registration_concurrency=ConcurrencyControlType.ARGUMENTS)
def registered_once(key: str) -> str:
    """Submitting the same call while one is REGISTERED must reuse it."""
    with probed(key):
        return key


def _slow_down_atomic_service(seconds: float) -> None:
    """Lengthen every atomic-service run so windows, kills and pauses are observable;
    probe each run's body (key ``atomic-service``)."""
    from pynenc.trigger.base_trigger import BaseTrigger

    original = BaseTrigger.trigger_loop_iteration

    def slow(self: BaseTrigger, atomic_service_run: object) -> None:
        with probed(ATOMIC_SERVICE_KEY):
            busy(seconds)
            original(self, atomic_service_run)  # type: ignore[arg-type]

    BaseTrigger.trigger_loop_iteration = slow  # type: ignore[method-assign]


def _widen_concurrency_checks(seconds: float) -> None:
    """Pause after a passed running-concurrency check, before pynenc's next write.

    pynenc checks concurrency in one orchestrator call and writes PENDING or
    RUNNING in the next; this pause stands for a busy machine between the two.
    An orchestrator that checks inside its own status write is not affected.
    """
    from pynenc.orchestrator.base_orchestrator import BaseOrchestrator

    for name in (
        "is_candidate_to_run_by_concurrency_control",
        "is_authorize_to_run_by_concurrency_control",
    ):
        original = getattr(BaseOrchestrator, name)

        def widened(self: BaseOrchestrator, invocation: Any, _check: Any = original) -> bool:
            allowed = bool(_check(self, invocation))
            controlled = invocation.task.conf.running_concurrency
            if allowed and controlled != ConcurrencyControlType.DISABLED:
                time.sleep(seconds)
            return allowed

        setattr(BaseOrchestrator, name, widened)


def follow_shared_clock(clock: Path) -> None:
    """Add the offset ``clock`` holds to this process's wall clock, now and whenever it
    changes (polled every 20 ms), in this process and in its forked children.

    Every process of a case follows one file, so that one write steps all their
    clocks at once, as an NTP step or a resume from suspend steps a host's:
    ``time.time`` and ``datetime.now`` move (time-machine), ``time.monotonic`` does
    not. Each process acknowledges the offset it applies in ``<clock>.<pid>``.
    """
    import datetime

    import time_machine

    from pynenc_scenarios.nemesis import read_offset

    # One traveller for the process's life, moved by exact shifts: it starts at the
    # host's time, and its first reading pins it there to the microsecond (time-machine
    # pins a ticking traveller at its first reading, not at its start).
    traveller = time_machine.travel(datetime.timedelta(0), tick=True).start()
    time.time()

    def apply(offset: float) -> None:
        global _clock_offset  # noqa: PLW0603 - the probes subtract it
        with _clock_lock:
            traveller.shift(offset - _clock_offset)
            _clock_offset = offset
        ack = clock.with_name(f"{clock.name}.{os.getpid()}")
        staging = ack.with_name(f"{ack.name}-new")
        staging.write_text(repr(offset))
        staging.replace(ack)

    def follow() -> None:
        apply(read_offset(clock))
        while True:
            if (offset := read_offset(clock)) != _clock_offset:
                apply(offset)
            time.sleep(0.02)

    def start() -> None:
        threading.Thread(target=follow, name="shared-clock", daemon=True).start()

    def start_in_child() -> None:
        global _clock_lock  # noqa: PLW0603 - a lock held at the fork stays held in the child
        _clock_lock = threading.Lock()
        start()

    os.register_at_fork(after_in_child=start_in_child)
    start()


if _clock := os.environ.get("SCENARIO_CLOCK_FILE"):
    follow_shared_clock(Path(_clock))
if _delay := float(os.environ.get("SCENARIO_ATOMIC_SERVICE_DELAY") or 0):
    _slow_down_atomic_service(_delay)
if _delay := float(os.environ.get("SCENARIO_CONCURRENCY_CHECK_DELAY") or 0):
    _widen_concurrency_checks(_delay)


def pass_gate(name: str) -> None:
    """Wait at the scenario's start gate ``name`` (a file in the work dir) until it opens."""
    with (HERE / name).open("rb") as gate:
        print(f"waiting at {name}", flush=True)
        fcntl.lockf(gate, fcntl.LOCK_SH)


def register_client(key: str, gate: str) -> None:
    """Submit ``registered_once(key)`` the instant ``gate`` opens; print the invocation id."""
    pass_gate(gate)
    print(registered_once(key).invocation_id, flush=True)

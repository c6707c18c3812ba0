"""pynenc-13: an idle PersistentProcessRunner worker polls without pausing.

pynenc 0.4.0's ``persistent_process_main`` loops on ``get_invocations_to_run`` and,
when it gets nothing, goes straight back to it: there is no pause in the worker's
loop (``runner_loop_sleep_time_sec`` only paces the parent). With a broker that
returns at once from an empty queue (pynenc's SQLite and memory brokers ignore
``queue_timeout_sec``), every idle worker takes a whole CPU; 32 idle workers on a
2-core host leave little for the ones with work (the e2e benchmark's
PersistentProcessRunner x4: every stack at about 120 tasks/s). This script runs one
worker loop for 2 s on an empty queue, in this process, and counts its polls:

    python scenarios/reproductions/idle_workers_spin.py [builtin|ours]

On pynenc's SQLite stack (builtin) it polls far more often than a loop pausing
``runner_loop_sleep_time_sec`` (10 ms) could (exit 1); pynenc-sqlite's broker waits up
to ``queue_timeout_sec`` for a message, so the same loop polls about 10 times a second.
"""

import sys
import tempfile
import threading
import time
from typing import Any

from pynenc.builder import PynencBuilder
from pynenc.runner.persistent_process_runner import persistent_process_main
from pynenc.runner.runner_context import RunnerContext

SECONDS = 2.0
LOOP_SLEEP = 0.01


def main(backend: str) -> int:
    workdir = tempfile.mkdtemp()
    builder = (
        PynencBuilder()
        .app_id("idle-workers-spin")
        .logging_level("warning")
        .custom_config(runner_cls="PersistentProcessRunner", runner_loop_sleep_time_sec=LOOP_SLEEP)
    )
    path = f"{workdir}/{backend}.sqlite3"
    app = (builder.sqlite_stack(path) if backend == "ours" else builder.sqlite(path)).build()
    polls = 0
    poll = app.orchestrator.get_invocations_to_run

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal polls
        polls += 1
        return poll(*args, **kwargs)

    app.orchestrator.get_invocations_to_run = counted  # type: ignore[method-assign]
    stop = threading.Event()
    threading.Timer(SECONDS, stop.set).start()
    cpu, wall = time.process_time(), time.monotonic()
    persistent_process_main(
        app,
        runner_cache={},
        stop_event=stop,  # type: ignore[arg-type]
        parent_runner_ctx_json=RunnerContext("PersistentProcessRunner").to_json(),
        child_runner_id="idle-worker",
    )
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    most = wall / LOOP_SLEEP
    print(
        f"{type(app.broker).__name__}: {polls} polls of an empty queue in {wall:.1f} s "
        f"({cpu:.2f} s CPU); a loop pausing {LOOP_SLEEP * 1000:g} ms makes at most {most:.0f}"
    )
    return 1 if polls > most else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "builtin"))

"""Run a command while N busy processes compete with it for the CPU.

    python3.12 tools/under_load.py --busy 2 -- python3.12 -m nox -t ci

Each busy process spins a core for as long as the command runs; all of them are
stopped by their pids when it ends, also when this script is interrupted. The exit
status is the command's. Standard library only, so it runs before any venv exists.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import FrameType

_SPIN = "while True: pass"
BUSY_PIDS_ENV = "UNDER_LOAD_BUSY_PIDS"


@dataclass(frozen=True)
class LoadRun:
    """What a loaded run did: the command's exit status, wall time and the load given."""

    returncode: int
    seconds: float
    busy_cpu_seconds: list[float]

    def summary(self, command: Sequence[str]) -> str:
        """One line for the end of the run."""
        busy = ", ".join(f"{cpu:.0f}" for cpu in self.busy_cpu_seconds) or "none"
        return (
            f"under_load: {' '.join(command)!r} exited {self.returncode} after "
            f"{self.seconds:.0f} s; busy processes used {busy} CPU s"
        )


def _stop(process: "subprocess.Popen[bytes]") -> float:
    """End a busy process by its pid; the CPU seconds it used."""
    with suppress(ProcessLookupError):
        process.kill()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def run_under_load(command: Sequence[str], busy: int) -> LoadRun:
    """Run ``command`` with ``busy`` spinning processes beside it.

    The command finds their pids in ``$UNDER_LOAD_BUSY_PIDS`` (space-separated).
    """
    spinners = [
        subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL)
        for _ in range(busy)
    ]
    env = {**os.environ, BUSY_PIDS_ENV: " ".join(str(spinner.pid) for spinner in spinners)}
    started = time.monotonic()
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        del frame
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        child = subprocess.Popen(list(command), env=env)
        while True:
            try:
                returncode = child.wait()
                break
            except KeyboardInterrupt:  # Ctrl-C reached the child too; wait for it to end
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        cpu = [_stop(spinner) for spinner in spinners]
    return LoadRun(returncode, time.monotonic() - started, cpu)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/under_load.py",
        description="Run a command while busy processes load the CPU; exit with its status.",
        epilog="example: python3.12 tools/under_load.py --busy 2 -- python3.12 -m nox -t ci",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=os.cpu_count() or 1,
        help="number of busy processes, each spinning one core (default: one per core)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if args.busy < 0:
        parser.error(f"--busy {args.busy}: give 0 or more busy processes")
    try:
        run = run_under_load(command, args.busy)
    except FileNotFoundError as error:
        parser.error(f"cannot run {command[0]!r}: {error.strerror}")
    print(run.summary(command), file=sys.stderr)
    # A command ended by a signal exits as a shell reports it: 128 + the signal number.
    return run.returncode if run.returncode >= 0 else 128 - run.returncode


if __name__ == "__main__":
    sys.exit(main())

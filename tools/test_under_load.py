"""tools/under_load.py: the load is real while the command runs, and gone after it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("under_load.py")

#: The command under load: waits until every busy process has used CPU time (an
#: event, with a deadline), prints their pids, then exits with status 3.
WAIT_FOR_SPINNING = """
import os, sys, time
pids = [int(pid) for pid in os.environ["UNDER_LOAD_BUSY_PIDS"].split()]
def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
deadline = time.monotonic() + 60
while any(cpu_ticks(pid) == 0 for pid in pids):
    if time.monotonic() > deadline:
        sys.exit("busy processes used no CPU in 60 s")
    time.sleep(0.01)
print(" ".join(map(str, pids)), flush=True)
sys.exit(3)
"""

#: Prints its own pid and the busy pids, then waits to be terminated.
PRINT_PIDS_THEN_WAIT = """
import os, signal
print(os.getpid(), os.environ["UNDER_LOAD_BUSY_PIDS"], flush=True)
signal.pause()
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _under_load(*args: str) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.timeout(120)
def test_busy_processes_spin_during_the_command_and_are_stopped_after_it() -> None:
    run = _under_load("--busy", "2", "--", sys.executable, "-c", WAIT_FOR_SPINNING)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 3, err
    pids = [int(pid) for pid in out.split()]
    assert len(pids) == 2
    assert all(_gone(pid) for pid in pids)
    assert "exited 3" in err
    assert "busy processes used" in err


@pytest.mark.timeout(120)
def test_a_terminated_run_stops_the_command_and_the_busy_processes() -> None:
    run = _under_load("--busy", "1", "--", sys.executable, "-c", PRINT_PIDS_THEN_WAIT)
    assert run.stdout is not None
    pids = [int(pid) for pid in run.stdout.readline().split()]
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGTERM, err
    assert all(_gone(pid) for pid in pids), pids  # reaped before under_load.py exits


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--busy", "1"], "give the command to run after --"),
        (["--busy", "1", "--", "no-such-command-here"], "cannot run 'no-such-command-here'"),
    ],
)
def test_bad_input_is_a_usage_error(args: list[str], message: str) -> None:
    run = _under_load(*args)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 2
    assert message in err

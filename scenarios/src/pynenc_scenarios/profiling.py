"""Sampling profiles of runner processes: py-spy attached to each runner and its workers.

With ``--profile DIR``, :meth:`AppEnv.start_runners` attaches one sampler per runner
once the runners are up (start-up is not sampled) and :meth:`AppEnv.stop_all` stops
the samplers before the runners. Each writes py-spy's raw format (``frame;frame;...
count`` per line, root first, full file names, non-idle samples only) to
``DIR/<case>/<runner>.txt``; ``benchmarks/bench_profile.py`` reads them.
"""

import shutil
import signal
import sys
from pathlib import Path

from pynenc_scenarios.processes import ManagedProcess, child_environment

#: Samples per second and per thread.
SAMPLE_RATE_HZ = 50


def py_spy_path() -> str:
    """The py-spy executable beside this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("--profile samples runners with py-spy: `pip install py-spy`")
    return found


class Sampler:
    """py-spy recording one process and its subprocesses until :meth:`stop`."""

    def __init__(self, target: ManagedProcess, output: Path) -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        self.output = output
        self.process = ManagedProcess(
            f"py-spy-{target.name}",
            [
                py_spy_path(),
                "record",
                "--pid",
                str(target.pid),
                "--subprocesses",
                "--full-filenames",
                "--nonblocking",
                "--rate",
                str(SAMPLE_RATE_HZ),
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            output.parent,
            child_environment({}),
            output.with_suffix(".log"),
        )

    def stop(self) -> None:
        """SIGINT, on which py-spy writes its samples and exits (as on Ctrl-C)."""
        self.process.stop(grace=30.0, signum=signal.SIGINT)

"""Runs pytest in a subprocess for the contract's self-tests."""

import os
import subprocess
import sys
from pathlib import Path

#: contract_tests/, where the adapters (broken backends among them) are importable.
CONTRACT_TESTS = Path(__file__).resolve().parents[1]


def run_pytest(cwd: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, in ``cwd``, with the adapters importable."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(CONTRACT_TESTS), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )

"""Runs pytest in a subprocess for the contract's self-tests."""

import subprocess
import sys
from pathlib import Path

#: contract_tests/: run from here, the adapters (broken backends among them) are found
#: as an author's package is, in the current directory.
CONTRACT_TESTS = Path(__file__).resolve().parents[1]


def run_pytest(cwd: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )

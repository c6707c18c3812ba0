"""Run one scenario: ``python scenarios/run.py SCENARIO [--quick] [--backend MODULE:ATTR]
[--runner TYPE ...] [--out DIR]`` (``--help`` after the name lists its options)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())

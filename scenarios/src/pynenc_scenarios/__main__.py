"""``python -m pynenc_scenarios``: see :mod:`pynenc_scenarios.cli`."""

from pynenc_scenarios.cli import entry_point

if __name__ == "__main__":
    entry_point()

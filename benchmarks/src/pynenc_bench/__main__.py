"""``python -m pynenc_bench``: see :mod:`pynenc_bench.cli`."""

from pynenc_bench.cli import entry_point

if __name__ == "__main__":
    entry_point()

"""``python -m pynenc_sqlite``: the ``pynenc-sqlite`` command."""

from pynenc_sqlite.cli import entry_point

entry_point()

"""Task functions for the benchmark: pynenc cannot import tasks defined in ``__main__``."""


def add(x: int) -> int:
    """A trivial task; only its invocations are used, it never runs."""
    return x + 1

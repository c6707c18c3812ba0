"""Task functions the suite wraps with ``app.task`` (tasks cannot live in ``__main__``)."""


def add(x: int, y: int) -> int:
    """A task with two arguments."""
    return x + y


def echo(value: str) -> str:
    """A task with one argument."""
    return value

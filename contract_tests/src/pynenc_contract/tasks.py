"""Task functions the suite wraps with ``app.task`` (tasks cannot live in ``__main__``)."""


def add(x: int, y: int) -> int:
    """A task with two arguments."""
    return x + y


def echo(value: str) -> str:
    """A task with one argument."""
    return value


def by_task(key: str, n: int) -> str:
    """The concurrency races' task for mode TASK (``key`` is the key argument)."""
    return f"{key}-{n}"


def by_keys(key: str, n: int) -> str:
    """The concurrency races' task for mode KEYS."""
    return f"{key}-{n}"


def by_arguments(key: str, n: int) -> str:
    """The concurrency races' task for mode ARGUMENTS."""
    return f"{key}-{n}"

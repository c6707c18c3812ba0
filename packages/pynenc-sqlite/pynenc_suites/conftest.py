"""pynenc's own reusable suites (``pynenc_tests``) against pynenc-sqlite's components.

Each suite takes its app from the ``app_instance`` fixture; here it is the app of
``pynenc_sqlite.contract:STACK`` (every pynenc-sqlite component in one file). Run
with pynenc_tests' fixtures as plugins (``nox -s pynenc_suites``)::

    pytest packages/pynenc-sqlite/pynenc_suites -p pynenc_tests.conftest \\
        -p pynenc_tests.integration.orchestrator.conftest
"""

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from pynenc import Pynenc

from pynenc_sqlite.contract import STACK

#: Tests of the suites that build their own app on pynenc's built-in SQLite instead of
#: taking ``app_instance``: they test nothing of ours (and start 20 processes).
NOT_OURS = {
    "test_status_transitions": "its module-level app is pynenc's built-in SQLite",
    "test_config_propagation_persistent_process": "its app is pynenc's built-in SQLite",
}
_app_ids = itertools.count(1)


@pytest.fixture
def app_instance(tmp_path: Path) -> Iterator[Pynenc]:
    """A fresh app of our description, in its own directory, with a unique app id."""
    app = STACK.new_app(f"pynenc-suite-{next(_app_ids)}", tmp_path)
    yield app
    app.orchestrator.close()  # type: ignore[attr-defined]
    app.state_backend.close()  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests that do not run on our components (:data:`NOT_OURS`)."""
    kept = [item for item in items if item.originalname not in NOT_OURS]  # type: ignore[attr-defined]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept

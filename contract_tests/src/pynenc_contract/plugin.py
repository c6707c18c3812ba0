"""pytest plugin: the contract's options, backend selection, clause markers, the report.

Run the contract against a backend with::

    pytest --pyargs pynenc_contract.suite --contract-backend mypackage.contract:BACKEND

The plugin loads wherever the package is installed, so it adds no fixture with a
common name: its one fixture is ``contract_backend``. The fixtures the clauses use
(``app``, ``app_factory``, ``clock``) live in ``pynenc_contract/suite/conftest.py``
and are seen only by the suite's own tests.
"""

import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from pynenc_contract.backend import BackendDescription, BackendDescriptionError, load_backend
from pynenc_contract.clauses import CLAUSES, signature_drift
from pynenc_contract.report import KNOWN_FAILURE, ClauseResults

MARKER = "contract_clause"

ENV_BACKEND = "PYNENC_CONTRACT_BACKEND"
_BACKEND_KEY = pytest.StashKey[BackendDescription | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pynenc-contract", "pynenc orchestrator contract")
    group.addoption(
        "--contract-backend",
        default=os.environ.get(ENV_BACKEND),
        help="'module:attribute' of a pynenc_contract.BackendDescription (or a factory of "
        f"one); default from ${ENV_BACKEND}. Its known_failures run as strict xfail, so a "
        "change in either direction fails the run",
    )
    group.addoption("--contract-report", help="directory for the conformance report (md, json)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(*ids): the contract clauses a test checks")
    spec = config.getoption("--contract-backend")
    try:
        config.stash[_BACKEND_KEY] = load_backend(spec) if spec else None
    except BackendDescriptionError as error:
        raise pytest.UsageError(f"--contract-backend: {error}") from None
    config.pluginmanager.register(_Reporter(config), "pynenc-contract-reporter")


def contract_test_id(item: pytest.Item) -> str:
    """A test's id inside the suite: ``module.py::test[params]``."""
    return f"{Path(item.path).name}::{item.name}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    contract_items = [item for item in items if item.get_closest_marker(MARKER)]
    if not contract_items:
        return
    backend = config.stash[_BACKEND_KEY]
    if backend is None:
        raise pytest.UsageError(
            "the pynenc contract suite needs a backend: pass --contract-backend "
            f"module:attribute (or set ${ENV_BACKEND}); it never falls back to a default"
        )
    drift = signature_drift(backend.orchestrator_class)
    if drift:  # reported before any test runs; clause API-2 fails on it too
        config.issue_config_time_warning(
            pytest.PytestWarning(f"{backend.name}: signature drift: {'; '.join(drift)}"),
            stacklevel=2,
        )
    for item in contract_items:
        ids = _clause_ids(item)
        item.user_properties.append(("contract_clauses", ",".join(ids)))
        item.user_properties.append(("contract_test_id", contract_test_id(item)))
        missing = {CLAUSES[cid].capability for cid in ids} - {None, *backend.capabilities}
        if missing:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{backend.name} lacks capability {', '.join(sorted(map(str, missing)))}"
                )
            )
        elif (known := backend.known_failure(contract_test_id(item))) is not None:
            reason = f"{KNOWN_FAILURE}{known.describe()}"
            item.add_marker(pytest.mark.xfail(reason=reason, strict=known.strict))
    test_ids = [contract_test_id(item) for item in contract_items]
    modules = {test_id.partition("::")[0] for test_id in test_ids}
    unknown = [
        key
        for key in backend.known_failures
        if key.partition("::")[0] in modules
        and not any(fnmatchcase(test_id, key) for test_id in test_ids)
    ]
    if unknown:
        raise pytest.UsageError(
            f"{backend.name}: known_failures name tests that do not exist: {sorted(unknown)}"
        )


def _clause_ids(item: pytest.Item) -> list[str]:
    return [cid for mark in item.iter_markers(MARKER) for cid in mark.args]


class _Reporter:
    """Collects clause outcomes (also from xdist workers) and prints the report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results = ClauseResults()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.results.add(report)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        backend = self.config.stash[_BACKEND_KEY]
        if backend is None or hasattr(self.config, "workerinput") or not self.results.outcomes:
            return
        report = self.results.summary(backend)
        terminalreporter.write_sep("=", f"pynenc contract: {backend.name}")
        terminalreporter.write_line(report.table())
        directory = self.config.getoption("--contract-report")
        if directory:
            report.write(Path(directory))
            terminalreporter.write_line(f"conformance report written to {directory}")


@pytest.fixture(scope="session")
def contract_backend(pytestconfig: pytest.Config) -> BackendDescription:
    """The backend under test, from --contract-backend."""
    backend = pytestconfig.stash[_BACKEND_KEY]
    if backend is None:
        pytest.fail("no --contract-backend given")
    return backend

"""pytest plugin: the contract's options, backend selection, clause markers, the report.

Run the contract against a backend with::

    pytest --pyargs pynenc_contract.suite --contract-backend mypackage.contract:BACKEND

The plugin loads wherever the package is installed, so it adds no fixture with a
common name: its one fixture is ``contract_backend``. The fixtures the clauses use
(``app``, ``app_factory``, ``clock``) live in ``pynenc_contract/suite/conftest.py``
and are seen only by the suite's own tests.
"""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pynenc_contract.backend import ContractBackend, load_backend
from pynenc_contract.clauses import CLAUSES, signature_drift
from pynenc_contract.report import ClauseResults

MARKER = "contract_clause"
ENV_BACKEND = "PYNENC_CONTRACT_BACKEND"
_BACKEND_KEY = pytest.StashKey[ContractBackend | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pynenc-contract", "pynenc orchestrator contract")
    group.addoption(
        "--contract-backend",
        default=os.environ.get(ENV_BACKEND),
        help="'module:attribute' of a pynenc_contract.ContractBackend (or a factory of one); "
        f"default from ${ENV_BACKEND}",
    )
    group.addoption("--contract-report", help="directory for the conformance report (md, json)")
    group.addoption(
        "--contract-expect",
        help="JSON file of known failures for this backend: {test id: reason}; those run as "
        "strict xfail, so a change in either direction fails the run",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(*ids): the contract clauses a test checks")
    spec = config.getoption("--contract-backend")
    config.stash[_BACKEND_KEY] = load_backend(spec) if spec else None
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
    expected = _expected_failures(config)
    for item in contract_items:
        ids = _clause_ids(item)
        item.user_properties.append(("contract_clauses", ",".join(ids)))
        missing = {CLAUSES[cid].capability for cid in ids} - {None, *backend.capabilities}
        if missing:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{backend.name} lacks capability {', '.join(sorted(map(str, missing)))}"
                )
            )
        elif (reason := expected.pop(contract_test_id(item), None)) is not None:
            item.add_marker(pytest.mark.xfail(reason=f"known failure: {reason}", strict=True))
    if expected:
        raise pytest.UsageError(
            f"--contract-expect names tests that do not exist: {sorted(expected)}"
        )


def _clause_ids(item: pytest.Item) -> list[str]:
    return [cid for mark in item.iter_markers(MARKER) for cid in mark.args]


def _expected_failures(config: pytest.Config) -> dict[str, str]:
    path = config.getoption("--contract-expect")
    if not path:
        return {}
    backend = config.stash[_BACKEND_KEY]
    assert backend is not None
    recorded: dict[str, dict[str, str]] = json.loads(Path(path).read_text())
    return dict(recorded.get(backend.name, {}))


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
def contract_backend(pytestconfig: pytest.Config) -> ContractBackend:
    """The backend under test, from --contract-backend."""
    backend = pytestconfig.stash[_BACKEND_KEY]
    if backend is None:
        pytest.fail("no --contract-backend given")
    return backend

"""pytest plugin: the contract's options, backend selection, clause markers, the report.

Run the contract against a backend with::

    pytest --pyargs pynenc_contract.suite --contract-backend mypackage.contract:BACKEND

The plugin loads wherever the package is installed, so it adds no fixture with a
common name: its one fixture is ``contract_backend``. The fixtures the clauses use
(``app``, ``app_factory``, ``clock``) live in ``pynenc_contract/suite/conftest.py``
and are seen only by the suite's own tests.
"""

import os
import pkgutil
import sys
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from pynenc_contract import suite
from pynenc_contract.backend import (
    ENV_BACKEND,
    BackendDescription,
    BackendDescriptionError,
    Component,
    checked_component,
    key_matches,
    load_backend,
)
from pynenc_contract.clauses import CLAUSES, signature_drift
from pynenc_contract.report import KNOWN_FAILURE, ClauseResults
from pynenc_contract.services import services_started

MARKER = "contract_clause"

_BACKEND_KEY = pytest.StashKey[BackendDescription | None]()
_SERVICES_KEY = pytest.StashKey[ExitStack]()
_WORKER_USAGE_ERROR = pytest.StashKey[str]()
#: The key of an xdist worker's output that carries its usage error to the controller.
_USAGE_ERROR = "pynenc_contract_usage_error"


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


#: pynenc's own warning on every serialization (pynenc 0.4 with jsonpickle 4): the one
#: warning the suite filters.
JSONPICKLE_WARNING = "ignore:keys will default to True in jsonpickle:DeprecationWarning"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(*ids): the contract clauses a test checks")
    spec = config.getoption("--contract-backend")
    try:
        config.stash[_BACKEND_KEY] = backend = load_backend(spec) if spec else None
    except BackendDescriptionError as error:
        raise pytest.UsageError(f"--contract-backend: {error}") from None
    if backend is None:
        return
    config.addinivalue_line("filterwarnings", JSONPICKLE_WARNING)
    if not hasattr(config, "workerinput"):  # once per run, before any test or xdist worker
        services = ExitStack()
        config.stash[_SERVICES_KEY] = services
        try:
            services.enter_context(services_started(backend))
            probe_backend(backend)
        except BackendDescriptionError as error:
            services.close()
            raise pytest.UsageError(f"--contract-backend {spec}: {error}") from None
    config.pluginmanager.register(_Reporter(config), "pynenc-contract-reporter")


def pytest_unconfigure(config: pytest.Config) -> None:
    if (services := config.stash.get(_SERVICES_KEY, None)) is not None:
        services.close()


def probe_backend(backend: BackendDescription) -> None:
    """Build one app the way every test will: a description whose apps use other
    classes than it names is one usage error before any test, not an error per test.

    Any other exception is the backend's to answer for: the tests report it, clause by
    clause (an orchestrator that cannot be instantiated fails API-1, for example).
    """
    with tempfile.TemporaryDirectory(prefix="pynenc-contract-probe-") as workdir:
        try:
            app = backend.new_app(f"contract-probe-{uuid.uuid4().hex[:8]}", Path(workdir))
        except BackendDescriptionError:
            raise
        except Exception:
            return
        for kind in backend.provided():
            try:
                component = checked_component(backend, app, kind)
            except BackendDescriptionError:
                raise
            except Exception:
                continue
            close = getattr(component, "close", None)
            if callable(close):
                close()


def contract_test_id(item: pytest.Item) -> str:
    """A test's id inside the suite: ``module.py::test[params]``."""
    return f"{Path(item.path).name}::{item.name}"


def suite_modules() -> set[str]:
    """File names of the suite's test modules."""
    return {
        f"{info.name}.py"
        for info in pkgutil.iter_modules(suite.__path__)
        if info.name.startswith("test_")
    }


def unknown_keys(backend: BackendDescription, test_ids: Sequence[str]) -> str:
    """One line naming the contract keys of ``known_failures`` that match no test ("" when
    all match). Keys of modules that were not collected are checked by module only."""
    modules = {test_id.partition("::")[0] for test_id in test_ids}
    unknown = []
    for key in backend.known_failures:
        module = key.partition("::")[0]
        if "::" not in key:
            continue  # a scenario check, checked by the scenarios
        if not any(key_matches(module, name) for name in suite_modules()) or (
            module in modules and not any(key_matches(key, test_id) for test_id in test_ids)
        ):
            unknown.append(key)
    if not unknown:
        return ""
    return (
        f"{backend.name}: known_failures name tests that do not exist: {sorted(unknown)} "
        "(keys are test ids as `pynenc-contract expect` prints them; * matches "
        "any text)"
    )


def _usage_error_before_tests(config: pytest.Config, test_ids: Sequence[str]) -> str:
    """The usage error of a run whose tests are ``test_ids``, if any."""
    backend = config.stash[_BACKEND_KEY]
    if backend is None:
        return (
            "the pynenc contract suite needs a backend: pass --contract-backend "
            f"module:attribute (or set ${ENV_BACKEND}); it never falls back to a default"
        )
    return unknown_keys(backend, test_ids)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    contract_items = [item for item in items if item.get_closest_marker(MARKER)]
    if not contract_items:
        return
    test_ids = [contract_test_id(item) for item in contract_items]
    if problem := _usage_error_before_tests(config, test_ids):
        if not hasattr(config, "workeroutput"):
            raise pytest.UsageError(problem)
        # An xdist worker: raised here, it would be an INTERNALERROR hiding the message.
        # The worker runs nothing and hands the message to the controller instead.
        config.workeroutput[_USAGE_ERROR] = problem
        items.clear()
        return
    backend = config.stash[_BACKEND_KEY]
    if backend is None:
        return
    drift = [
        problem
        for kind in backend.provided()
        for problem in signature_drift(backend.component_class(kind) or object)
    ]
    if drift and not hasattr(config, "workerinput"):  # before any test; API-2 fails on it too
        config.issue_config_time_warning(
            pytest.PytestWarning(f"{backend.name}: signature drift: {'; '.join(drift)}"),
            stacklevel=2,
        )
    for item in contract_items:
        ids = _clause_ids(item)
        item.user_properties.append(("contract_clauses", ",".join(ids)))
        item.user_properties.append(("contract_test_id", contract_test_id(item)))
        missing = {CLAUSES[cid].capability for cid in ids} - {None, *backend.capabilities}
        unnamed = {kind for cid in ids for kind in CLAUSES[cid].components} - set(
            backend.provided()
        )
        if unnamed:
            kinds = ", ".join(f"Component.{kind.name}" for kind in Component if kind in unnamed)
            reason = f"{backend.name} names no {kinds} class (BackendDescription.components)"
            item.add_marker(pytest.mark.skip(reason=reason))
        elif missing:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{backend.name} lacks capability {', '.join(sorted(map(str, missing)))}"
                )
            )
        elif (known := backend.known_failure(contract_test_id(item))) is not None:
            reason = f"{KNOWN_FAILURE}{known.describe()}"
            item.add_marker(pytest.mark.xfail(reason=reason, strict=known.strict))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Under xdist, in the controller: a worker's usage error (see
    pytest_collection_modifyitems), kept for the end of the session."""
    del error
    if problem := getattr(node, "workeroutput", {}).get(_USAGE_ERROR):
        node.config.stash[_WORKER_USAGE_ERROR] = problem


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if problem := session.config.stash.get(_WORKER_USAGE_ERROR, None):
        sys.stderr.write(f"ERROR: {problem}\n")
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


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

"""An outside author's mistakes with the contract, each answered in one line that names
the fix (and the commands work from the author's own directory)."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pynenc_contract.__main__ import known_failures_from_reports, main
from pynenc_contract.backend import BackendDescriptionError, Component, version_of
from pynenc_contract.plugin import unknown_keys
from pynenc_sqlite import PynencSQLiteOrchestrator, PynencSQLiteStateBackend
from pynenc_sqlite.contract import WAL

#: The ``pytest`` script (not ``python -m pytest``: it does not put the current
#: directory on the path).
PYTEST = str(Path(sys.executable).with_name("pytest"))
BRACKETED = "test_concurrency.py::test_registration_holds_among_threads[arguments]"


def pytest_script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTEST, "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


@pytest.mark.timeout(300)
def test_the_pytest_script_finds_the_authors_package_with_no_warnings(author_dir: Path) -> None:
    done = pytest_script(
        author_dir,
        "--pyargs",
        "pynenc_contract.suite.test_lookups",
        "--contract-backend",
        "throwaway_backend:BACKEND",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert " passed" in last
    assert "warning" not in last  # pynenc's jsonpickle DeprecationWarning is filtered
    assert "throwaway_backend" in done.stdout  # its version line names the package


def test_expect_output_pasted_back_names_the_same_tests(tmp_path: Path) -> None:
    report = tmp_path / "conformance.json"
    tests = {
        BRACKETED: {"outcome": "fail", "reason": "AssertionError: two claims", "clauses": ["CC-3"]},
        "test_lookups.py::test_filter_by_status": {"outcome": "pass", "reason": ""},
    }
    report.write_text(json.dumps({"backend": "mine", "tests": tests}))
    source = known_failures_from_reports([report])
    assert "KnownFailure('DEFECT', 'AssertionError: two claims'),  # CC-3" in source
    namespace: dict[str, object] = {}
    exec(source, namespace)  # pasted into a description module as it is
    known = namespace["known_failures"]
    assert isinstance(known, dict)
    assert list(known) == [BRACKETED]
    described = WAL.__class__(**{**vars(WAL), "known_failures": known})
    other_param = BRACKETED.replace("[arguments]", "[a]")
    assert unknown_keys(described, [BRACKETED, other_param]) == ""
    assert described.known_failure(BRACKETED) is known[BRACKETED]
    assert described.known_failure(other_param) is None


def test_expect_on_a_scenario_summary_prints_its_failed_checks(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    check = {"name": "no body ran more than once", "ok": False, "detail": "2 ran twice"}
    pynenc_defect = {"name": "all invocations registered", "ok": False, "detail": "stuck"}
    case = {
        "label": "TR",
        "checks": [check, pynenc_defect, {"name": "ok one", "ok": True, "detail": ""}],
        "expected_failures": {
            "all invocations registered": {"defect": "pynenc-1a", "of": "pynenc"}
        },
    }
    summary.write_text(
        json.dumps({"backend": "mine", "runs": [{"scenario": "fanout", "cases": [case]}]})
    )
    source = known_failures_from_reports([summary])
    assert "'fanout/TR: no body ran more than once': KnownFailure('DEFECT', '2 ran twice')," in (
        source
    )
    assert "ok one" not in source
    assert "all invocations registered" not in source  # pynenc's defect, not the backend's


def test_expect_on_a_missing_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["expect", str(tmp_path / "nowhere.json")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"pynenc-contract: error: expect: {tmp_path / 'nowhere.json'}: no such file"
    )


@pytest.mark.timeout(200)
def test_an_unknown_key_under_xdist_is_one_usage_error(author_dir: Path) -> None:
    (author_dir / "typo.py").write_text(
        "from dataclasses import replace\n"
        "from pynenc_contract import KnownFailure\n"
        "from throwaway_backend import BACKEND\n"
        "TYPO = replace(BACKEND, known_failures={'test_lookups.py::test_no_such_test': "
        "KnownFailure('x', 'y')})\n"
    )
    done = pytest_script(
        author_dir,
        "--pyargs",
        "pynenc_contract.suite.test_lookups",
        "--contract-backend=typo:TYPO",
        "-n",
        "2",
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:]
    output = done.stdout + done.stderr
    assert "INTERNALERROR" not in output
    assert (
        "throwaway: known_failures name tests that do not exist: "
        "['test_lookups.py::test_no_such_test']"
    ) in output


@pytest.mark.timeout(200)
def test_an_app_on_another_orchestrator_is_one_usage_error_before_any_test(
    author_dir: Path,
) -> None:
    (author_dir / "wrong.py").write_text(
        "from dataclasses import replace\n"
        "from pynenc.builder import PynencBuilder\n"
        "from throwaway_backend import BACKEND\n"
        "def build_app(app_id, workdir):\n"
        "    return PynencBuilder().app_id(app_id).sqlite(str(workdir / 'x.db')).build()\n"
        "WRONG = replace(BACKEND, build_app=build_app)\n"
    )
    done = pytest_script(
        author_dir, "--pyargs", "pynenc_contract.suite", "--contract-backend=wrong:WRONG", "-n", "2"
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert "throwaway' built an app whose orchestrator is pynenc." in line
    assert "check the orchestrator_cls set by build_app" in line
    assert len(done.stdout.splitlines()) + len(done.stderr.splitlines()) < 5


def _conformance(directory: Path, cell: str, python: str) -> None:
    from pynenc_contract.clauses import CLAUSES

    (directory / cell).mkdir(parents=True)
    clauses = {clause: {"verdict": "pass", "reason": ""} for clause in CLAUSES}
    data = {"backend": "mine", "python": python, "versions": {}, "clauses": clauses}
    (directory / cell / "conformance.json").write_text(json.dumps(data))


def test_two_reports_of_one_backend_on_one_python_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _conformance(tmp_path, "old", "3.12.1")
    _conformance(tmp_path, "new", "3.12.1")
    assert main(["matrix", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"two reports of backend 'mine' on Python 3.12.1: {tmp_path / 'new/conformance.json'} "
        f"and {tmp_path / 'old/conformance.json'}; delete the stale one, or give the "
        "backends different names"
    )
    _conformance(tmp_path, "direct", "3.13.0")  # a --contract-report of its own
    assert main(["matrix", str(tmp_path / "direct")]) == 0
    assert "1 backends from 1 reports" in capsys.readouterr().out
    _conformance(tmp_path / "pythons", "a", "3.12.1")
    _conformance(tmp_path / "pythons", "b", "3.13.0")
    assert main(["matrix", str(tmp_path / "pythons")]) == 0
    assert "1 backends from 2 reports" in capsys.readouterr().out


def test_a_distribution_given_by_its_import_name_shows_its_version(
    author_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert version_of("pynenc_sqlite") == version_of("pynenc-sqlite")
    assert version_of("xdist") == f"{version_of('pytest-xdist')} (pytest-xdist)"
    assert version_of("no_such_package_anywhere") == "not installed"
    monkeypatch.chdir(author_dir)
    assert version_of("throwaway_backend") == (
        f"source at {author_dir / 'throwaway_backend'}, not installed"
    )


@pytest.mark.parametrize(
    "spec", ["throwaway_backend:BACKEND", "throwaway_backend.contract:BACKEND"]
)
def test_a_run_from_the_projects_parent_folder_names_the_fix(
    author_dir: Path, tmp_path: Path, spec: str
) -> None:
    """The project folder has the package's name: from its parent, Python finds the
    folder (a namespace package), not the package inside it."""
    author_dir.rename(tmp_path / "throwaway_backend")
    done = pytest_script(
        tmp_path, "--pyargs", "pynenc_contract.suite", f"--contract-backend={spec}"
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert (
        f"was found as a directory without __init__.py ({tmp_path / 'throwaway_backend'})" in line
    )
    assert "run from the directory that holds the package, or install it" in line


@pytest.mark.timeout(200)
def test_an_orchestrator_class_name_pynenc_does_not_know_is_one_usage_error(
    author_dir: Path,
) -> None:
    (author_dir / "noname.py").write_text(
        "from dataclasses import replace\n"
        "from pynenc.builder import PynencBuilder\n"
        "from throwaway_backend import BACKEND\n"
        "def build_app(app_id, workdir):\n"
        "    builder = PynencBuilder().app_id(app_id).sqlite(str(workdir / 'x.db'))\n"
        "    return builder.custom_config(orchestrator_cls='MyOrchestrator').build()\n"
        "NONAME = replace(BACKEND, build_app=build_app)\n"
    )
    done = pytest_script(
        author_dir,
        "--pyargs",
        "pynenc_contract.suite",
        "--contract-backend=noname:NONAME",
        "-n",
        "2",
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert "Unknown subclass: MyOrchestrator of BaseOrchestrator" in line
    assert (
        "orchestrator_cls must be the class name of orchestrator_class, 'ThrowawayOrchestrator'"
    ) in line


@pytest.mark.timeout(200)
def test_an_app_on_another_broker_than_described_is_one_usage_error_before_any_test(
    author_dir: Path,
) -> None:
    (author_dir / "wrongbroker.py").write_text(
        "from dataclasses import replace\n"
        "from pynenc_contract import Component\n"
        "from pynenc_sqlite import PynencSQLiteBroker\n"
        "from throwaway_backend import BACKEND\n"
        "WRONG = replace(BACKEND, components={Component.BROKER: PynencSQLiteBroker})\n"
    )
    done = pytest_script(
        author_dir, "--pyargs", "pynenc_contract.suite", "--contract-backend=wrongbroker:WRONG"
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert (
        "throwaway' built an app whose broker is throwaway_backend.ThrowawayBroker, not "
        "pynenc_sqlite.broker.sqlite_broker.PynencSQLiteBroker"
    ) in line
    assert "check the broker_cls set by build_app" in line


def test_a_component_of_the_wrong_kind_is_named_with_its_base_class() -> None:
    with pytest.raises(
        BackendDescriptionError,
        match=r"components\[Component.BROKER\] must be "
        r"a BaseBroker subclass, got <class '.*PynencSQLiteStateBackend'>; "
        r"PynencSQLiteStateBackend is a BaseStateBackend: give it as "
        r"components\[Component\.STATE_BACKEND\]",
    ):
        replace(WAL, components={Component.BROKER: PynencSQLiteStateBackend})
    with pytest.raises(BackendDescriptionError, match=r"its keys are Component\.BROKER, "):
        replace(WAL, components={Component.ORCHESTRATOR: PynencSQLiteOrchestrator})

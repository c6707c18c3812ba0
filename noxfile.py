"""The matrix: Python versions x SQLite journal modes x backends.

nox -s tests        pynenc-sqlite's own tests, every Python and journal mode
nox -s contract     the component contract against every backend
nox -s scenarios    real runner processes coordinating through SQLite
nox -s bench        benchmark (not a test): ours vs built-in vs bare sqlite3
nox -t ci           what `.ci/run` runs: lint, types, tests, contract, quick scenarios,
                    faults and the combined coverage report
"""

import json
import os
import re
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "typecheck", "tests", "contract"]

ROOT = Path(__file__).parent
PYTHONS = ["3.12", "3.13"]
JOURNAL_MODES = ["wal", "delete", "truncate", "persist", "memory"]
COVERAGE_DIR = ROOT / ".coverage-data"
RESULTS_DIR = ROOT / "results"
IN_CI = bool(os.environ.get("CI"))

#: Backends: id -> the spec of its description (module:attribute; the harness commands
#: run in contract_tests/, where ``adapters`` is found as an author's package is, in the
#: current directory). The description says what else it needs (services such as a
#: redis-server, which the commands start); a backend outside the workspace installs
#: the dependency group "backend-<id up to its first dash>" of pyproject.toml
#: (redis-orchestrator: redis).
BACKENDS = {
    **{f"sqlite-{mode}": f"pynenc_sqlite.contract:{mode.upper()}" for mode in JOURNAL_MODES},
    **{
        f"sqlite-stack-{mode}": f"pynenc_sqlite.contract:STACK_{mode.upper()}"
        for mode in JOURNAL_MODES
    },
    "memory": "pynenc_contract.pynenc_backends:MEMORY",
    "builtin-sqlite": "pynenc_contract.pynenc_backends:BUILTIN_SQLITE",
    "redis": "adapters.redis_backend:BACKEND",
    "redis-orchestrator": "adapters.redis_backend:ORCHESTRATOR",
    "rustvello": "adapters.rustvello_backend:BACKEND",
    "broken-claim": "adapters.broken:CLAIM",
}
#: Backends of the contract matrix: ours is the stack (every component) in each journal
#: mode; the broken ones run in contract_selftest.
CONTRACT_BACKENDS = [
    *(f"sqlite-stack-{mode}" for mode in JOURNAL_MODES),
    "memory",
    "builtin-sqlite",
    "redis",
    "rustvello",
]
DEPENDENCY_GROUPS = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]


def in_ci(python: str, cell: str) -> bool:
    """Whether `-t ci` runs a matrix cell (a journal mode, or a backend such as
    ``sqlite-stack-wal``): every cell on the first Python, ours in WAL on the others.
    `nox -s NAME` runs every cell."""
    return python == PYTHONS[0] or cell.removeprefix("sqlite-stack-") == "wal"


def by_python(cells: list[str]) -> list[Any]:
    """The (python, cell) parameters of a matrix, tagged ``ci`` where :func:`in_ci`."""
    return [
        nox.param(python, cell, tags=["ci"] if in_ci(python, cell) else [])
        for python in PYTHONS
        for cell in cells
    ]


def install(session: nox.Session, *groups: str) -> None:
    """Install the workspace (editable) and dependency groups from the lock file."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--inexact",
        *(f"--group={group}" for group in groups),
        f"--python={session.virtualenv.location}",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


def cell_name(session: nox.Session) -> str:
    """The session's name as a file name: contract(python='3.12', backend='x') ->
    contract-python-3.12-backend-x."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", session.name).strip("-")


def coverage_env(session: nox.Session) -> dict[str, str]:
    """One coverage data file (prefix) per matrix cell, subprocesses included."""
    COVERAGE_DIR.mkdir(exist_ok=True)
    return {
        "COVERAGE_FILE": str(COVERAGE_DIR / f".coverage.{cell_name(session)}"),
        "COVERAGE_RCFILE": str(ROOT / "pyproject.toml"),
    }


def pytest_with_coverage(
    session: nox.Session, *args: str, env: dict[str, str] | None = None
) -> None:
    """``pytest *args`` under coverage, into this cell's data file (see coverage_env)."""
    session.run(
        "coverage",
        "run",
        "-m",
        "pytest",
        *args,
        *session.posargs,
        env={**coverage_env(session), **(env or {})},
    )


@nox.session(python=PYTHONS[0], tags=["ci", "quick"])
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting; the GitHub workflows against their schema."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    workflows = sorted(map(str, (ROOT / ".github" / "workflows").glob("*.yml")))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)


@nox.session(python=PYTHONS[0], tags=["ci", "quick"])
def typecheck(session: nox.Session) -> None:
    """mypy, strict, on our packages and their tests."""
    install(session, "typecheck")
    session.run(
        "mypy",
        "packages/pynenc-sqlite/src",
        "packages/pynenc-sqlite/tests",
        "packages/pynenc-sqlite/pynenc_suites",
        "contract_tests/src",
        "contract_tests/adapters",
        "contract_tests/tests",
        "benchmarks",
        "scenarios",
        "tools",
        "noxfile.py",
    )
    session.run("mypy", "conftest.py")  # apart: mypy sees two top-level conftest modules


@nox.session(python=PYTHONS[0], tags=["ci", "quick"])
def tools(session: nox.Session) -> None:
    """The repo's own tools (tools/under_load.py)."""
    install(session, "test")
    session.run("pytest", "tools", "-p", "no:cacheprovider", *session.posargs)


@nox.session
@nox.parametrize(("python", "journal_mode"), by_python(JOURNAL_MODES))
def tests(session: nox.Session, journal_mode: str) -> None:
    """pynenc-sqlite's own tests in one journal mode (the contract runs in `contract`).

    The benchmark's own tests (query plans, whose stores are wal whatever the cell,
    and the profile breakdown) run in the wal cells only.
    """
    install(session, "test")
    bench_tests = ["benchmarks/tests"] if journal_mode == "wal" else []
    pytest_with_coverage(
        session,
        "packages/pynenc-sqlite/tests",
        *bench_tests,
        "-n",
        "2",
        "-m",
        "not slow",
        env={"PYNENC_SQLITE_JOURNAL_MODE": journal_mode},
    )


@nox.session(python=PYTHONS, tags=["ci"])
def pynenc_suites(session: nox.Session) -> None:
    """pynenc's own reusable suites (``pynenc_tests``) against our components (coverage
    counts them)."""
    install(session, "test")
    pytest_with_coverage(
        session,
        "packages/pynenc-sqlite/pynenc_suites",
        "-p",
        "pynenc_tests.conftest",
        "-p",
        "pynenc_tests.integration.orchestrator.conftest",
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
    )


def install_backend(session: nox.Session, backend: str, *groups: str) -> dict[str, Any]:
    """Install what ``backend`` needs; its description as ``python -m pynenc_contract
    describe`` prints it."""
    group = f"backend-{backend.partition('-')[0]}"
    install(session, *groups, *([group] if group in DEPENDENCY_GROUPS else []))
    with session.chdir(ROOT / "contract_tests"):
        described = session.run("pynenc-contract", "describe", BACKENDS[backend], silent=True)
    return dict(json.loads(str(described)))


def skip_without_services(session: nox.Session, described: dict[str, Any]) -> None:
    """Skip a cell whose backend needs a redis-server this machine lacks, except in CI."""
    if "redis-server" in described["services"] and shutil.which("redis-server") is None:
        if IN_CI:
            session.error("redis-server is not installed; CI must install it")
        session.skip("redis-server is not installed (apt-get install redis-server)")


@nox.session
@nox.parametrize(("python", "backend"), by_python(CONTRACT_BACKENDS))
def contract(session: nox.Session, backend: str) -> None:
    """The component contract against one backend.

    Its description's known failures run as strict expected failures: results must
    match them in both directions; ours has none, so every clause must pass.
    """
    described = install_backend(session, backend, "test")
    skip_without_services(session, described)
    report = RESULTS_DIR / "contract" / cell_name(session)
    args = [
        "--pyargs",
        "pynenc_contract.suite",
        "--contract-backend",
        BACKENDS[backend],
        "-n",
        "2",
        f"--contract-report={report}",
        "-rfE",
        "-p",
        "no:cacheprovider",
    ]
    with session.chdir(ROOT / "contract_tests"):
        # Coverage measures ours; tracing another backend's run would only slow it down.
        if backend.startswith("sqlite-"):
            pytest_with_coverage(session, *args)
        else:
            session.run("pytest", *args, *session.posargs)
    # The backend x clause matrix of every cell run so far (each cell adds its column).
    session.run("pynenc-contract", "matrix", str(RESULTS_DIR / "contract"))


@nox.session(python=PYTHONS[0], tags=["ci"])
def conformance(session: nox.Session) -> None:
    """The README's conformance summary is the one the contract cells just produced.

    Run after `contract` (as `nox -t ci` does); `-- --write` regenerates it.
    """
    install(session, "test")
    write = "--write" in session.posargs
    session.run(
        "pynenc-contract",
        "matrix",
        str(RESULTS_DIR / "contract"),
        "--readme",
        str(ROOT / "contract_tests" / "README.md"),
        *(() if write else ("--check",)),
    )


@nox.session(python=PYTHONS[0], tags=["ci"])
def contract_selftest(session: nox.Session) -> None:
    """The contract's own tests: completeness, CONTRACT.md, broken copies caught
    (each on the suite modules of its clauses)."""
    install(session, "test")
    pytest_with_coverage(session, "contract_tests/tests", "-n", "2", "-m", "not slow")


@nox.session(python=PYTHONS[0], default=False)
def contract_broken(session: nox.Session) -> None:
    """Each broken copy on the whole suite fails exactly its clauses (roughly 30 min)."""
    install(session, "test")
    session.run("pytest", "contract_tests/tests/test_broken_backends.py", "-m", "slow")


def run_scenarios(session: nox.Session, backends: dict[str, tuple[str, ...]]) -> None:
    """The scenarios on each backend (id -> extra arguments of ``pynenc-scenarios run``);
    one summary per backend in results/scenarios, then the matrix of every cell so far."""
    for backend, args in backends.items():
        described = install_backend(session, backend, "test")
        skip_without_services(session, described)
        name = cell_name(session)  # names the backend already when parametrized by it
        out = RESULTS_DIR / "scenarios" / (name if backend in name else f"{name}-{backend}")
        with session.chdir(ROOT / "contract_tests"):
            session.run(
                "pynenc-scenarios",
                "run",
                "--backend",
                BACKENDS[backend],
                "--out",
                str(out),
                *args,
                *session.posargs,
            )
    session.run("pynenc-scenarios", "matrix", str(RESULTS_DIR / "scenarios"))


#: Backends of the scenario matrix; the broken one must fail (its failures are known).
SCENARIO_BACKENDS = [
    *(f"sqlite-{mode}" for mode in JOURNAL_MODES),
    "sqlite-stack-wal",
    "builtin-sqlite",
    "redis-orchestrator",
    "redis",
    "broken-claim",
]


@nox.session(python=PYTHONS, default=False)
@nox.parametrize("backend", SCENARIO_BACKENDS)
def scenarios(session: nox.Session, backend: str) -> None:
    """Cross-process scenarios with real runners, full form (add `-- --quick` to shorten)."""
    run_scenarios(session, {backend: ()})


#: The quick scenarios in `-t ci`: ours in one journal mode per Python; on 3.12 also
#: pynenc's built-in where it differs from ours, the redis orchestrator's crash recovery
#: (pause and partition), and the broken claim on fan-out.
QUICK_SCENARIO_CELLS: dict[str, dict[str, tuple[str, ...]]] = {
    "3.12": {
        "sqlite-wal": ("--quick",),
        "builtin-sqlite": (
            "--quick",
            *("--only", "concurrency", "--only", "registration", "--only", "atomic_service"),
            *("--runner", "ThreadRunner"),
        ),
        "redis-orchestrator": ("--quick", "--only", "crash_recovery", "--runner", "ThreadRunner"),
        "broken-claim": ("--quick", "--only", "fanout", "--runner", "ThreadRunner"),
    },
    "3.13": {"sqlite-stack-wal": ("--quick",)},
}


@nox.session(python=PYTHONS, tags=["ci"])
def scenarios_quick(session: nox.Session) -> None:
    """The quick form of the scenarios (see QUICK_SCENARIO_CELLS)."""
    run_scenarios(session, QUICK_SCENARIO_CELLS[str(session.python)])


@nox.session(python=PYTHONS[0], tags=["ci"])
def scenarios_selftest(session: nox.Session) -> None:
    """The scenario harness's own tests: a description outside the repo runs a scenario."""
    install(session, "test")
    session.run("pytest", "scenarios/tests", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHONS[0], default=False)
@nox.parametrize("journal_mode", JOURNAL_MODES)
def soak(session: nox.Session, journal_mode: str) -> None:
    """16 processes hammer one database for 60 s while a reader holds transactions."""
    install(session, "test")
    session.run(
        "pytest",
        "packages/pynenc-sqlite/tests/test_soak.py",
        "-m",
        "slow",
        "-s",
        *session.posargs,
        env={"PYNENC_SQLITE_JOURNAL_MODE": journal_mode},
    )


#: The benchmark's comparison set (the bare-sqlite3 floor is added by bench.py).
BENCH_BACKENDS = [
    *(f"sqlite-{mode}" for mode in JOURNAL_MODES),
    "sqlite-stack-wal",
    "builtin-sqlite",
    "memory",
    "redis",
]


@nox.session(python=PYTHONS[0], default=False)
def bench(session: nox.Session) -> None:
    """Benchmark: ours (each journal mode) vs built-in, memory, redis and bare sqlite3.

    pynenc-bench starts the redis-server the redis backend needs.
    """
    install(session, "bench")
    with session.chdir(ROOT / "contract_tests"):
        session.run(
            "pynenc-bench",
            *(f"--backend={backend}={BACKENDS[backend]}" for backend in BENCH_BACKENDS),
            # every backend runs every phase: two runner types keep e2e near 40 minutes
            "--e2e-runners=ThreadRunner,PersistentProcessRunner",
            "--out",
            str(RESULTS_DIR / "bench"),
            *session.posargs,
        )


#: The harness's distributions, as an outside author installs them.
HARNESS_PACKAGES = [
    "pynenc-sqlite",
    "pynenc-orchestrator-contract",
    "pynenc-orchestrator-scenarios",
    "pynenc-orchestrator-bench",
]


@nox.session(python=PYTHONS[0], tags=["ci"], reuse_venv=False)
def outside_author(session: nox.Session) -> None:
    """An outside author's path, from built wheels in a fresh venv: the throwaway backend
    (tools/throwaway_backend) in a directory outside the repo runs the contract, a quick
    scenario and the quick benchmark through the commands the author's guide gives."""
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for package in HARNESS_PACKAGES:
        session.run(
            "uv",
            "build",
            "--quiet",
            "--wheel",
            "--package",
            package,
            "--out-dir",
            str(dist),
            external=True,
        )
    session.install(*map(str, sorted(dist.glob("*.whl"))))
    author = Path(tempfile.mkdtemp(prefix="pynenc-author-"))  # outside the repo
    shutil.copytree(ROOT / "tools" / "throwaway_backend", author / "throwaway_backend")
    results = RESULTS_DIR / "outside-author"
    spec = "throwaway_backend:BACKEND"
    with session.chdir(author):
        # The harness comes from the wheels in the session's venv, no repo source on the path.
        session.run(
            "python",
            "-c",
            "import sys, pynenc_contract, pynenc_scenarios, pynenc_bench, pynenc_sqlite; "
            f"sources = [{str(ROOT)!r} + d for d in ('', '/contract_tests', '/scenarios', "
            "'/benchmarks', '/packages')]; "
            "assert not [p for p in sys.path if any(p.startswith(s + '/src') or p == s "
            "for s in sources)], sys.path; "
            "modules = (pynenc_contract, pynenc_scenarios, pynenc_bench, pynenc_sqlite); "
            "assert all('site-packages' in m.__file__ for m in modules), modules",
        )
        session.run(
            "pytest",
            "--pyargs",
            "pynenc_contract.suite",
            "--contract-backend",
            spec,
            "-n",
            "2",
            f"--contract-report={results / 'contract'}",
            "-p",
            "no:cacheprovider",
        )
        session.run(
            "pynenc-scenarios",
            "run",
            "--backend",
            spec,
            "--quick",
            "--only",
            "registration",
            "--out",
            str(results / "scenarios"),
        )
        session.run(
            "pynenc-bench",
            "--quick",
            "--backend",
            f"throwaway={spec}",
            "--bare",
            "wal",
            "--e2e-runners",
            "ThreadRunner",
            "--out",
            str(results / "bench"),
        )
    shutil.rmtree(author, ignore_errors=True)


@nox.session(python=PYTHONS[0], tags=["ci"])
def coverage(session: nox.Session) -> None:
    """Combine the coverage data the other sessions wrote; report per package.

    Run it after `tests` and `contract` (as `nox -t ci` does).
    """
    install(session, "test")
    env = {
        "COVERAGE_FILE": str(COVERAGE_DIR / ".coverage"),
        "COVERAGE_RCFILE": str(ROOT / "pyproject.toml"),
    }
    session.run("coverage", "combine", str(COVERAGE_DIR), env=env)
    session.run(
        "coverage", "report", "--include=packages/pynenc-sqlite/*", "--fail-under=95", env=env
    )
    session.run("coverage", "report", "--include=contract_tests/*", env=env)

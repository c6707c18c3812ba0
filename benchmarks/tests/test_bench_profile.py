"""How runner samples are attributed to components (bench_profile)."""

from pathlib import Path

from pynenc_bench.profile import OTHER, STARTUP, read_raw

SITE = "/venv/lib/python3.12/site-packages"
ROOT = 'process 41:"python -m pynenc --app app runner start"'
RUN = f"DistributedInvocation.run ({SITE}/pynenc/invocation/dist_invocation.py:345)"
LOOP = f"ThreadRunner.runner_loop_iteration ({SITE}/pynenc/runner/thread_runner.py:120)"
SET_STATUS = f"BaseOrchestrator.set_invocation_status ({SITE}/pynenc/orchestrator/base.py:445)"
OUR_TRANSITION = "StatusStore.transition (/src/pynenc_sqlite/orchestrator/status.py:80)"
OUR_CONNECT = "Database._connect (/src/pynenc_sqlite/database.py:151)"
OUR_CONNECTION = "Database.connection (/src/pynenc_sqlite/database.py:97)"
ADD_HISTORY = f"SQLiteStateBackend._add_histories ({SITE}/pynenc/state_backend/sqlite.py:300)"
PYNENC_CONNECT = f"create_sqlite_connection ({SITE}/pynenc/util/sqlite_utils.py:85)"
DUMPS = f"dumps ({SITE}/jsonpickle/pickler.py:160)"
IMPORTING = "_call_with_frames_removed (<frozen importlib._bootstrap>:488)"
WORKER_MAIN = f"PersistentProcessRunner.worker ({SITE}/pynenc/runner/ppr.py:90)"


def _raw(tmp_path: Path, *lines: tuple[tuple[str, ...], int]) -> Path:
    path = tmp_path / "runner-0.txt"
    path.write_text("".join(f"{';'.join(stack)} {count}\n" for stack, count in lines))
    return path


def test_a_sample_belongs_to_the_innermost_component(tmp_path: Path) -> None:
    """The state backend called by the orchestrator is the state backend's time, and a
    library it calls (serialization) is too; the runner's own loop is the runner's."""
    path = _raw(
        tmp_path,
        ((ROOT, LOOP, RUN, SET_STATUS, ADD_HISTORY, DUMPS), 7),
        ((ROOT, LOOP, RUN, SET_STATUS, OUR_TRANSITION), 5),
        ((ROOT, LOOP), 2),
        ((ROOT, RUN), 1),
    )
    breakdown = read_raw([path])
    assert breakdown.samples == 15
    assert dict(breakdown.by_component) == {
        "state backend": 7,
        "orchestrator": 5,
        "runner": 2,
        OTHER: 1,
    }
    assert breakdown.share("state backend") == 7 / 15


def test_connection_set_up_is_counted_in_its_callers_component(tmp_path: Path) -> None:
    """pynenc's per-call connection helper and our connection set-up count as set-up,
    and as the component that asked for the connection."""
    path = _raw(
        tmp_path,
        ((ROOT, RUN, ADD_HISTORY, PYNENC_CONNECT), 6),
        ((ROOT, RUN, OUR_TRANSITION, OUR_CONNECTION, OUR_CONNECT), 2),
        ((ROOT, RUN, OUR_TRANSITION, OUR_CONNECTION), 2),
    )
    breakdown = read_raw([path])
    assert breakdown.connection_setup == 8
    assert breakdown.setup_share() == 0.8
    assert dict(breakdown.by_component) == {"state backend": 6, "orchestrator": 4}


def test_lines_without_a_count_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "runner-0.txt"
    path.write_text(f"{ROOT};{LOOP} 3\n\nnot a sample line\n")
    breakdown = read_raw([path])
    assert (breakdown.samples, dict(breakdown.by_component)) == (3, {"runner": 3})


def test_importing_is_start_up_whoever_imports(tmp_path: Path) -> None:
    """A worker still importing (or a lazy import in a component) is start-up."""
    path = _raw(
        tmp_path,
        ((ROOT, WORKER_MAIN, IMPORTING), 4),
        ((ROOT, RUN, ADD_HISTORY, IMPORTING), 1),
        ((ROOT, WORKER_MAIN), 5),
    )
    breakdown = read_raw([path])
    assert dict(breakdown.by_component) == {STARTUP: 5, "runner": 5}

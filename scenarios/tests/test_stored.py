"""``--stored N``: the throughput scenario's cases first store N final invocations of
another task, each as a runner leaves it, through pynenc's API (any backend)."""

from dataclasses import replace
from pathlib import Path

from pynenc.invocation.status import InvocationStatus

from pynenc_contract.backend import load_backend
from pynenc_scenarios.appenv import AppEnv
from pynenc_scenarios.cases import Options
from pynenc_scenarios.checks import check_histories_replay
from pynenc_scenarios.suite import throughput

#: pynenc's built-in SQLite components: the filling needs no backend of ours.
BUILTIN = "pynenc_contract.pynenc_backends:BUILTIN_SQLITE"
STORED = 50
WALK = [
    InvocationStatus.REGISTERED,
    InvocationStatus.PENDING,
    InvocationStatus.RUNNING,
    InvocationStatus.SUCCESS,
]


def test_stored_invocations_are_finished_like_a_runners_and_never_queued(tmp_path: Path) -> None:
    opts = Options(
        True,
        BUILTIN,
        load_backend(BUILTIN),
        ("ThreadRunner",),
        tmp_path,
        keep=False,
        verbose=False,
        stored=STORED,
    )
    case = throughput.plan(opts)[0]
    assert (case.label, case.params["stored"]) == ("TR/x1/stored-50", STORED)
    assert throughput.plan(replace(opts, stored=0))[0].label == "TR/x1"
    env = AppEnv(case, opts)
    try:
        env.store_final("stored", STORED)
        assert env.count("stored", [InvocationStatus.SUCCESS]) == env.count("stored") == STORED
        assert env.count("noop") == 0
        assert env.app.broker.count_invocations() == 0
        histories = env.histories(["stored"])
        assert all([entry.status for entry in entries] == WALK for entries in histories.values())
        assert check_histories_replay(histories).ok
        results = [env.app.state_backend.get_result(i) for i in env.invocation_ids("stored")]  # type: ignore[arg-type]
        assert sorted(results) == list(range(STORED))
    finally:
        env.close(None)

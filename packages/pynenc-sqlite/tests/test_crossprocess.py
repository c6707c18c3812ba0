"""Several OS processes on one database file: claims, retries and mixed writes."""

from collections import Counter
from pathlib import Path

import pytest

from pynenc_contract import kit, racing
from pynenc_contract.backend import load_backend

#: Loaded by its spec, so that the racing processes load it too.
BACKEND = load_backend("pynenc_sqlite.contract:BACKEND")

pytestmark = pytest.mark.crossprocess

PROCESSES = 4


@pytest.mark.timeout(300)
def test_four_processes_never_claim_the_same_invocation_twice(tmp_path: Path) -> None:
    app = BACKEND.new_app("race", tmp_path)
    ids = kit.registered(app, 500)
    wins = racing.in_processes(
        BACKEND, app.app_id, tmp_path, work="claim", inputs=ids, racers=PROCESSES
    )
    counts = Counter(invocation_id for won in wins for invocation_id in won)
    assert max(counts.values()) == 1
    assert set(counts) == set(ids)
    owners = {app.orchestrator.get_invocation_status_record(i).runner_id for i in ids}
    assert owners <= {f"racer-{n}" for n in range(PROCESSES)}


@pytest.mark.timeout(300)
def test_no_retry_increment_is_lost_across_processes(tmp_path: Path) -> None:
    app = BACKEND.new_app("retries", tmp_path)
    ids = kit.registered(app, 100)
    racing.in_processes(
        BACKEND, app.app_id, tmp_path, work="increment", inputs=ids, racers=PROCESSES
    )
    assert {app.orchestrator.get_invocation_retries(i) for i in ids} == {PROCESSES}

"""Atomicity under concurrency: threads and separate OS processes."""

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from pynenc import Pynenc
from pynenc.identifiers.invocation_id import InvocationId
from pynenc.invocation.status import InvocationStatus

from pynenc_contract import kit, racing
from pynenc_contract.backend import ContractBackend
from pynenc_contract.clauses import clause

INVOCATIONS = 60
RACERS = 4


def _assert_one_winner_each(app: Pynenc, ids: Sequence[str], wins: list[list[str]]) -> None:
    counts = Counter(invocation_id for won in wins for invocation_id in won)
    doubles = {i: n for i, n in counts.items() if n > 1}
    assert not doubles, f"{len(doubles)} of {len(ids)} invocations claimed more than once"
    assert set(counts) == set(ids), f"{len(set(ids) - set(counts))} invocations claimed by none"
    for index, won in enumerate(wins):
        for invocation_id in won:
            record = app.orchestrator.get_invocation_status_record(InvocationId(invocation_id))
            assert (record.status, record.runner_id) == (
                InvocationStatus.PENDING,
                racing.racer_id(index),
            )


@clause("ATOM-1")
@pytest.mark.timeout(120)
def test_one_thread_wins_each_claim(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    ids = kit.registered(app, INVOCATIONS)
    wins = racing.in_threads(app, "claim", ids, RACERS)
    _assert_one_winner_each(app, ids, wins)


@clause("ATOM-2")
@pytest.mark.timeout(180)
def test_one_process_wins_each_claim(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    ids = kit.registered(app, INVOCATIONS)
    wins = racing.in_processes(
        contract_backend, app.app_id, tmp_path, work="claim", inputs=ids, racers=RACERS
    )
    _assert_one_winner_each(app, ids, wins)


@clause("ATOM-3")
@pytest.mark.timeout(120)
def test_no_retry_increment_is_lost_between_threads(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    ids = kit.registered(app, 10)
    racing.in_threads(app, "increment", ids, RACERS)
    assert [app.orchestrator.get_invocation_retries(i) for i in ids] == [RACERS] * len(ids)


@clause("ATOM-2", "ATOM-3")
@pytest.mark.timeout(180)
def test_no_retry_increment_is_lost_between_processes(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    ids = kit.registered(app, 10)
    racing.in_processes(
        contract_backend, app.app_id, tmp_path, work="increment", inputs=ids, racers=RACERS
    )
    assert [app.orchestrator.get_invocation_retries(i) for i in ids] == [RACERS] * len(ids)


@clause("ATOM-4")
@pytest.mark.timeout(120)
def test_one_atomic_service_execution_runs_among_threads(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    winners = racing.in_threads(app, "claim_atomic_service", [], RACERS)
    assert sum(len(won) for won in winners) == 1
    assert len(app.orchestrator.get_active_atomic_service_executions()) == 1


@clause("ATOM-2", "ATOM-4")
@pytest.mark.timeout(180)
def test_one_atomic_service_execution_runs_among_processes(
    contract_backend: ContractBackend, app: Pynenc, tmp_path: Path
) -> None:
    winners = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work="claim_atomic_service",
        inputs=[],
        racers=RACERS,
    )
    assert sum(len(won) for won in winners) == 1
    assert len(app.orchestrator.get_active_atomic_service_executions()) == 1

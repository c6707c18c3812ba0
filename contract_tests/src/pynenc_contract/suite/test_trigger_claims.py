"""Claims of trigger runs and of cron periods, raced by threads and by OS processes."""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.trigger.conditions import CronCondition

from pynenc_contract import racing
from pynenc_contract.backend import Component, ContractBackend
from pynenc_contract.clauses import clause
from pynenc_contract.suite.conftest import AppFactory
from pynenc_contract.suite.test_trigger import EVERY_MINUTE, NOON

RACERS = 4
RUNS = [f"run-{n:03d}" for n in range(40)]
PERIODS = [(NOON + timedelta(minutes=n)).isoformat() for n in range(20)]
CRON_ID = CronCondition(EVERY_MINUTE).condition_id
WORK = __name__
#: What a racer reports instead of an item when its claim raised (the race goes on).
RAISED = "raised "


def _claimed(item: str, claim: Callable[..., bool], *args: Any) -> list[str]:
    """``[item]`` when ``claim(*args)`` is True, ``[]`` when False, a RAISED line if it
    raised."""
    try:
        return [item] if claim(*args) else []
    except Exception as error:  # a claim answers False when lost; the test reports this
        return [f"{RAISED}{type(error).__name__} claiming {item}: {error}"]


def claim_runs(app: Pynenc, racer: racing.Racer, run_ids: Sequence[str]) -> list[str]:
    """All racers at once, run by run: claim_trigger_run; the runs this racer won."""
    trigger = app.trigger
    won = []
    for run_id in run_ids:
        racer.sync()
        won += _claimed(run_id, trigger.claim_trigger_run, run_id)
    return won


def claim_cron_periods(app: Pynenc, racer: racing.Racer, periods: Sequence[str]) -> list[str]:
    """Period by period, as pynenc's scheduler does: every racer reads the cron's last
    execution, then every racer stores the period over what it read; the periods this
    racer stored."""
    trigger = app.trigger
    won = []
    for period in periods:
        racer.sync()
        last = trigger.get_last_cron_execution(CRON_ID)
        racer.sync()
        moment = datetime.fromisoformat(period)
        won += _claimed(period, trigger.store_last_cron_execution, CRON_ID, moment, last)
    return won


def _assert_each_won_once(wins: list[list[str]], items: list[str]) -> None:
    raised = [item for won in wins for item in won if item.startswith(RAISED)]
    assert not raised, f"{len(raised)} claims raised instead of returning False: {raised[0]}"
    counts = Counter(item for won in wins for item in won)
    twice = sorted(item for item, n in counts.items() if n > 1)
    assert not twice, f"{len(twice)} of {len(items)} won more than once, e.g. {twice[:3]}"
    assert sorted(counts) == sorted(items), f"{len(set(items) - set(counts))} won by none"


def _with_cron(trigger: Any) -> None:
    trigger.register_condition(CronCondition(EVERY_MINUTE))


@clause("TRIG-7")
@pytest.mark.timeout(120)
def test_each_trigger_run_is_won_by_one_thread(app: Pynenc, trigger: Any) -> None:
    wins = racing.in_threads(app, f"{WORK}:claim_runs", RUNS, RACERS, kind=Component.TRIGGER)
    _assert_each_won_once(wins, RUNS)


@clause("TRIG-7")
@pytest.mark.timeout(120)
def test_each_cron_period_is_won_by_one_thread(app: Pynenc, trigger: Any) -> None:
    _with_cron(trigger)
    wins = racing.in_threads(
        app, f"{WORK}:claim_cron_periods", PERIODS, RACERS, kind=Component.TRIGGER
    )
    _assert_each_won_once(wins, PERIODS)
    assert trigger.get_last_cron_execution(CRON_ID) == datetime.fromisoformat(PERIODS[-1])


@clause("TRIG-7")
@pytest.mark.timeout(60)
def test_a_run_claim_is_refused_until_it_expires(trigger: Any) -> None:
    assert trigger.claim_trigger_run("run", expiration_seconds=1)
    assert not trigger.claim_trigger_run("run", expiration_seconds=1)
    deadline = time.monotonic() + 15
    while not trigger.claim_trigger_run("run", expiration_seconds=60):
        assert time.monotonic() < deadline, "an expired claim is never granted again"
        time.sleep(0.05)
    assert not trigger.claim_trigger_run("run")


@clause("TRIG-8")
@pytest.mark.timeout(180)
def test_each_trigger_run_is_won_by_one_process(
    contract_backend: ContractBackend, app: Pynenc, trigger: Any, tmp_path: Path
) -> None:
    wins = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work=f"{WORK}:claim_runs",
        inputs=RUNS,
        racers=RACERS,
        kind=Component.TRIGGER,
    )
    _assert_each_won_once(wins, RUNS)


@clause("TRIG-8")
@pytest.mark.timeout(180)
def test_each_cron_period_is_won_by_one_process(
    contract_backend: ContractBackend, app: Pynenc, trigger: Any, tmp_path: Path
) -> None:
    _with_cron(trigger)
    wins = racing.in_processes(
        contract_backend,
        app.app_id,
        tmp_path,
        work=f"{WORK}:claim_cron_periods",
        inputs=PERIODS,
        racers=RACERS,
        kind=Component.TRIGGER,
    )
    _assert_each_won_once(wins, PERIODS)
    assert trigger.get_last_cron_execution(CRON_ID) == datetime.fromisoformat(PERIODS[-1])


@clause("TRIG-8")
def test_a_process_that_starts_cannot_claim_a_claimed_period(app_factory: AppFactory) -> None:
    running = app_factory()
    _with_cron(running.trigger)
    assert running.trigger.store_last_cron_execution(CRON_ID, NOON, None)
    started = app_factory(running.app_id)
    _with_cron(started.trigger)
    last = started.trigger.get_last_cron_execution(CRON_ID)
    assert last == NOON, "the process that started does not see the claimed period"
    assert not started.trigger.store_last_cron_execution(CRON_ID, NOON, None)

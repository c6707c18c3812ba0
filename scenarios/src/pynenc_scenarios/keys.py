"""A backend's scenario known-failure keys, checked against the cases and checks they
name: before a run (the case part) and after it (the check part)."""

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pynenc_contract import BackendDescription
from pynenc_contract.backend import key_matches
from pynenc_scenarios.cases import RUNNER_TYPES, Options
from pynenc_scenarios.suite import SUITE, load_scenario


def scenario_keys(backend: BackendDescription) -> list[str]:
    """The backend's known-failure keys that name scenario checks (contract keys name a
    test, ``module.py::test``)."""
    return [key for key in backend.known_failures if "::" not in key]


def case_names(backend: BackendDescription) -> list[str]:
    """Every ``scenario/label`` a run can have, in the quick and the full form."""
    names: dict[str, None] = {}
    for name in SUITE:
        scenario = load_scenario(name)
        for quick in (True, False):
            opts = Options(quick, "", backend, RUNNER_TYPES, Path(), keep=False, verbose=False)
            names.update(dict.fromkeys(f"{name}/{case.label}" for case in scenario.plan(opts)))
    return list(names)


def unknown_scenario_keys(backend: BackendDescription) -> str:
    """One line naming the keys that no scenario case can match ("" when all can)."""
    names = case_names(backend)
    unknown = [
        key
        for key in scenario_keys(backend)
        if not any(key_matches(key.partition(": ")[0], name) for name in names)
    ]
    if not unknown:
        return ""
    return (
        f"known_failures keys name no scenario case: {unknown}; a key is "
        f"'<scenario>/<case>: <check>' with a case such as {names[0]!r} (* matches any text)"
    )


def unmatched_scenario_keys(
    backend: BackendDescription, cases: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[str]:
    """Keys whose cases ran but that match none of their checks (a misspelled check)."""
    ran: dict[str, Sequence[str]] = {
        f"{scenario}/{case['label']}": [check["name"] for check in case["checks"]]
        for scenario, case in cases
    }
    problems = []
    for key in scenario_keys(backend):
        head = key.partition(": ")[0]
        named = {name: checks for name, checks in ran.items() if key_matches(head, name)}
        ids = [f"{name}: {check}" for name, checks in named.items() for check in checks]
        if named and not any(key_matches(key, check_id) for check_id in ids):
            problems.append(
                f"known failure {key!r} matches no check of the cases it names: correct or "
                f"remove it (their checks: {sorted({i.partition(': ')[2] for i in ids})})"
            )
    return problems

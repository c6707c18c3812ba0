"""The contract: every promise a pynenc component makes, numbered, in one place.

Each kind of component has its module of clauses (``orchestrator``, ``broker``,
``state_backend``, ``trigger``, ``client_data_store``, and ``across`` for promises of
the components together). Tests are tagged with ``@clause("ID")``; ``CONTRACT.md`` is
generated from these modules (``pynenc-contract markdown``), and :func:`coverage_gaps`
fails the build when a clause has no test, an abstract method of a kind's pynenc base
class or a documented guarantee has no clause, or a scenario invariant has neither a
clause nor a reason why none can check it.
"""

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from pynenc_contract.backend import Component
from pynenc_contract.clauses import (
    across,
    broker,
    client_data_store,
    orchestrator,
    state_backend,
    trigger,
)
from pynenc_contract.clauses.clause import Clause

__all__ = [
    "CLAUSES",
    "GUARANTEES",
    "SCENARIO_INVARIANTS",
    "Clause",
    "Invariant",
    "abstract_methods",
    "clause",
    "coverage_gaps",
    "invariant_for",
    "markdown",
    "signature_drift",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The module of each kind's clauses, in the order CONTRACT.md shows them.
_KINDS = (orchestrator, broker, state_backend, trigger, client_data_store, across)
#: Every clause, by id.
CLAUSES: dict[str, Clause] = {item.id: item for module in _KINDS for item in module.CLAUSES}
#: Guarantees pynenc's docstrings state beyond one method's existence (name -> where
#: and what), of every kind; each must be covered by a clause of its kind.
GUARANTEES: dict[str, str] = {
    name: text for module in _KINDS for name, text in module.GUARANTEES.items()
}
#: Section titles of CONTRACT.md, by kind (None: across components).
TITLES: dict[Component | None, str] = {
    Component.ORCHESTRATOR: "Orchestrator (BaseOrchestrator, BaseBlockingControl)",
    Component.BROKER: "Broker (BaseBroker)",
    Component.STATE_BACKEND: "State backend (BaseStateBackend)",
    Component.TRIGGER: "Trigger (BaseTrigger)",
    Component.CLIENT_DATA_STORE: "Client data store (BaseClientDataStore)",
    None: "Across components",
}


def clause(*clause_ids: str) -> Callable[[F], F]:
    """Tag a test with the clauses it checks (an unknown id is an error at import)."""
    unknown = [item for item in clause_ids if item not in CLAUSES]
    if unknown:
        raise KeyError(
            f"unknown contract clause(s) {unknown}; define them in pynenc_contract/clauses/"
        )
    return pytest.mark.contract_clause(*clause_ids)


def abstract_methods(kind: Component = Component.ORCHESTRATOR) -> list[str]:
    """Abstract methods of the base classes a component of ``kind`` must implement."""
    names: set[str] = set()
    for base in kind.base_classes:
        names |= set(getattr(base, "__abstractmethods__", ()))
    return sorted(names)


def clauses_of(kind: Component | None) -> list[Clause]:
    """The clauses of one kind (None: those across components)."""
    return [item for item in CLAUSES.values() if item.kind == kind]


@dataclass(frozen=True)
class Invariant:
    """A check the cross-process scenarios make with real runners, and the clauses that
    check the orchestrator's part of it; without a clause, why none can."""

    check: str
    clauses: tuple[str, ...] = ()
    without_runners: str = ""


#: Every check of the scenarios (``scenarios/``; their self-test keeps this complete).
SCENARIO_INVARIANTS = (
    Invariant(
        "histories replay under pynenc's status rules",
        ("TRANS-1", "TRANS-2", "TRANS-3", "TRANS-4", "ATOM-1", "ATOM-2", "MODEL-1"),
    ),
    Invariant(
        "all invocations registered and SUCCESS (none lost)",
        ("REG-1", "FLOW-2", "REC-1", "REC-2", "BLOCK-1", "BLOCK-3"),
        "that nothing is lost end to end also needs the broker, the state backend and the runners",
    ),
    Invariant("no body ran more than once", ("ATOM-1", "ATOM-2", "RUN-3")),
    Invariant("each task ran exactly once (one RUNNING per history)", ("ATOM-1", "ATOM-2")),
    Invariant("never two RUNNING at once for the same key (histories)", ("CC-1", "CC-2")),
    Invariant("never two bodies at once for the same key (probes)", ("CC-1", "CC-2")),
    Invariant("one invocation per call", ("CC-3", "FLOW-1")),
    Invariant("only invocations the victim was running ran twice", ("REC-2",)),
    Invariant(
        "no invocation ran in two processes at once",
        (),
        "the orphan workers of a runner whose parent was killed, or the bodies of a "
        "paused runner, keep running while recovery reruns their invocations (pynenc-5, "
        "pynenc-15): a runner's defect that only real processes show",
    ),
    Invariant(
        "a paused runner's writes after it was continued are refused",
        ("TRANS-2", "TRANS-3", "REC-3"),
    ),
    Invariant(
        "a cut-off runner's writes after its link came back are refused",
        ("TRANS-2", "TRANS-3", "REC-3"),
    ),
    Invariant("windows of different runners never overlap", ("ATOM-4", "AS-2", "RUN-3")),
    Invariant("service resumes after its holder is killed", ("AS-6",)),
    Invariant("service resumes after its holder is paused", ("AS-6",)),
    Invariant(
        "a continued holder's service body never runs alongside another runner's",
        (),
        "a runner paused past the dead timeout finishes the atomic-service run it was "
        "in once continued, whoever holds the service by then (pynenc-17): a runner's "
        "defect that only real processes show",
    ),
    Invariant(
        "the service runs again after the clock stepped back",
        (),
        "pynenc's runner times its atomic-service runs by the wall clock "
        "(BaseRunner._check_atomic_services): after a step back it waits about the step "
        "before the next run (pynenc-18), which only running runners show",
    ),
    Invariant(
        'no "database is locked" in runner logs',
        (),
        "how a SQLite backend holds up under many runner processes shows only in their logs",
    ),
    Invariant(
        "the case runs to its end",
        (),
        "the harness's own check that a case did not raise (a backend whose runners "
        "cannot start fails it)",
    ),
)


def invariant_for(check: str) -> Invariant | None:
    """The invariant of a scenario check (checks with a variable tail match by prefix)."""
    return next((item for item in SCENARIO_INVARIANTS if check.startswith(item.check)), None)


def coverage_gaps(tested_clause_ids: Iterable[str]) -> list[str]:
    """Problems that make the contract incomplete; empty when it is whole."""
    gaps = []
    for kind in Component:
        covered = {name for item in clauses_of(kind) for name in item.covers}
        gaps += [
            f"abstract method {kind.base_classes[0].__name__}.{name} has no clause"
            for name in abstract_methods(kind)
            if name not in covered and name != "blocking_control"
        ]
    covered = {name for item in CLAUSES.values() for name in item.covers}
    gaps += [f"guarantee {name} has no clause" for name in GUARANTEES if name not in covered]
    tested = set(tested_clause_ids)
    gaps += [f"clause {cid} has no test" for cid in CLAUSES if cid not in tested]
    for item in SCENARIO_INVARIANTS:
        gaps += [
            f"scenario invariant {item.check!r} names unknown clause {cid}"
            for cid in item.clauses
            if cid not in CLAUSES
        ]
        if not item.clauses and not item.without_runners:
            gaps.append(f"scenario invariant {item.check!r} has no clause and no reason")
    return gaps


def markdown() -> str:
    """CONTRACT.md: every clause with its text, a section per kind of component."""
    from pynenc_contract import PYNENC_RANGE, __version__

    lines = [
        "# The pynenc component contract",
        "",
        f"Contract version {__version__}, for pynenc {PYNENC_RANGE}. Generated from "
        "`pynenc_contract/clauses/`; do not edit by hand.",
        "",
        "A backend description names the components it provides; the clauses of the "
        "kinds it does not name are skipped.",
    ]
    for kind, title in TITLES.items():
        lines += [
            "",
            f"## {title}",
            "",
            "| clause | title | promise | needs |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {item.id} | {item.title} | {item.text} | {item.capability or 'core'} |"
            for item in clauses_of(kind)
        ]
    lines += [
        "",
        "## Guarantees of pynenc's docstrings",
        "",
        "| guarantee | where pynenc states it | clauses |",
        "|---|---|---|",
    ]
    for name, source in GUARANTEES.items():
        covering = ", ".join(cid for cid, item in CLAUSES.items() if name in item.covers)
        lines.append(f"| {name} | {source} | {covering} |")
    lines += [
        "",
        "## What the scenarios check with real runners",
        "",
        "Each invariant of the cross-process scenarios, with the clauses that check the "
        "orchestrator's part of it here, and why the rest needs runners.",
        "",
        "| scenario invariant | clauses | only with runners |",
        "|---|---|---|",
    ]
    for invariant in SCENARIO_INVARIANTS:
        clauses = ", ".join(invariant.clauses) or "none"
        lines.append(f"| {invariant.check} | {clauses} | {invariant.without_runners or '-'} |")
    return "\n".join(lines) + "\n"


def signature_drift(cls: type) -> list[str]:
    """Abstract methods whose override in ``cls`` lacks or renames a base parameter."""
    problems = []
    for base in (base for kind in Component for base in kind.base_classes):
        if not issubclass(cls, base):
            continue
        for name in sorted(getattr(base, "__abstractmethods__", ())):
            base_attr, own_attr = getattr(base, name), getattr(cls, name, None)
            if isinstance(base_attr, property) or own_attr is None:
                continue
            expected = inspect.signature(base_attr).parameters
            actual = inspect.signature(own_attr).parameters
            accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in actual.values())
            for param in expected.values():
                got = actual.get(param.name)
                if got is None and not accepts_kwargs:
                    problems.append(f"{cls.__name__}.{name} lacks parameter {param.name!r}")
                elif got is not None and got.kind != param.kind:
                    problems.append(
                        f"{cls.__name__}.{name} parameter {param.name!r} is "
                        f"{got.kind.description}, base has {param.kind.description}"
                    )
    return problems

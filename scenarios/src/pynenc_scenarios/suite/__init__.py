"""The scenarios, one module each, in the order ``pynenc-scenarios run`` runs them."""

import importlib

from pynenc_scenarios.scenario import Scenario

#: Every scenario; each is the module of that name in this package.
SUITE = (
    "fanout",
    "crash_recovery",
    "concurrency",
    "registration",
    "atomic_service",
    "clock_jump",
    "throughput",
)


def load_scenario(name: str) -> Scenario:
    """The ``SCENARIO`` declared by the module ``name`` of this package."""
    scenario: Scenario = importlib.import_module(f"{__name__}.{name}").SCENARIO
    return scenario

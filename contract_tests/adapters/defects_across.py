"""Known failures of other backends under the clauses across components."""

from adapters.defects_broker import REDIS_BROKER_PRE_0_4
from pynenc_contract import KnownFailure, suite_command

RUSTVELLO_NOT_INSTANTIABLE = KnownFailure(
    "pynenc-rustvello 0.1.3: four components lack pynenc 0.4's abstract methods",
    "the orchestrator (atomic-service executions), the broker (_route_invocation(s)), the "
    "state backend (get_invocations_by_parent_event) and the trigger (event and trigger "
    "run storage) cannot be instantiated, so no app can route or run an invocation "
    "(ACROSS-1, ACROSS-2)",
    suite_command("test_across", "adapters.rustvello_backend:BACKEND", directory="contract_tests"),
)

#: RedisBroker cannot be instantiated: no app of the redis stack routes an invocation.
REDIS: dict[str, KnownFailure] = {"test_across.py::*": REDIS_BROKER_PRE_0_4}
RUSTVELLO: dict[str, KnownFailure] = {"test_across.py::*": RUSTVELLO_NOT_INSTANTIABLE}

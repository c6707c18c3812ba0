"""What a scenario declares (:class:`Scenario`), and how one of its cases is run.

A scenario module of :mod:`pynenc_scenarios.suite` holds one
``SCENARIO = Scenario(...)``; ``pynenc-scenarios run`` runs each in its own process.
"""

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from pynenc_contract import Check
from pynenc_scenarios.cases import RUNNER_TYPES, Case, Options
from pynenc_scenarios.outcome import CASE_RUNS, CaseResult
from pynenc_scenarios.processes import cleanup_processes

#: Runs one case, recording checks, metrics and notes in the result.
CaseRunner = Callable[[Case, Options, CaseResult], None]


@dataclass(frozen=True)
class Scenario:
    """A scenario, declared once in its module (``SCENARIO = Scenario(plan, run, ...)``).

    :param plan: the cases to run for the options.
    :param run: runs one case.
    :param headline: metric keys shown per case in the summaries; the first one a
        case reports is its headline in the matrix report.
    :param quick_runners: runner types of the quick form (default: every type).
    """

    plan: Callable[[Options], list[Case]]
    run: CaseRunner
    headline: tuple[str, ...]
    quick_runners: tuple[str, ...] = RUNNER_TYPES

    @property
    def name(self) -> str:
        """The scenario's name: its module's last component, as the results use it."""
        return self.run.__module__.rpartition(".")[2]

    @property
    def description(self) -> str:
        """What it does and which invariants it checks: its module's docstring."""
        return sys.modules[self.run.__module__].__doc__ or ""

    def run_case(self, case: Case, opts: Options) -> CaseResult:
        """Run one case; an exception fails :data:`CASE_RUNS` (an ``error`` outcome)."""
        result = CaseResult(case, opts.backend, headline_keys=self.headline)
        start = time.time()
        try:
            self.run(case, opts, result)
        except KeyboardInterrupt:
            raise
        except Exception as error:
            result.error = traceback.format_exc()
            result.add(Check(CASE_RUNS, False, f"{type(error).__name__}: {error}"[:300]))
        finally:
            result.seconds = time.time() - start
            cleanup_processes()
        return result

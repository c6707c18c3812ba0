"""pynenc's unit suite of orchestrators."""

from pynenc_tests.unit.orchestrator.all_tests import *  # noqa: F403

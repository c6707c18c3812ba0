"""pynenc's integration suite of orchestrators."""

from pynenc_tests.integration.orchestrator.all_tests import *  # noqa: F403

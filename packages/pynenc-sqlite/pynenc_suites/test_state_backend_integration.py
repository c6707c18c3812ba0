"""pynenc's integration suite of state backends."""

from pynenc_tests.integration.state_backend.all_tests import *  # noqa: F403

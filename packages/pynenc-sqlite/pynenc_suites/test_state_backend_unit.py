"""pynenc's unit suite of state backends."""

from pynenc_tests.unit.state_backend.all_tests import *  # noqa: F403

"""pynenc's trigger suite: backend monitoring."""

from pynenc_tests.unit.trigger.test_trigger_backend_monitoring import *  # noqa: F403

"""pynenc's trigger suite: all instances."""

from pynenc_tests.unit.trigger.test_trigger_all_instances import *  # noqa: F403

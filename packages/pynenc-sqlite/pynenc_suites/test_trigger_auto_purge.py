"""pynenc's trigger suite: auto purge."""

from pynenc_tests.unit.trigger.test_trigger_auto_purge import *  # noqa: F403

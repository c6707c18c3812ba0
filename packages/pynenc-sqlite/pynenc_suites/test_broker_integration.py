"""pynenc's integration suite of brokers."""

from pynenc_tests.integration.broker.all_tests import *  # noqa: F403

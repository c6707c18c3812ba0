"""pynenc's unit suite of brokers."""

from pynenc_tests.unit.broker.all_tests import *  # noqa: F403

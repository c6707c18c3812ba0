"""pynenc's unit suite of client data stores."""

from pynenc_tests.unit.client_data_store.all_tests import *  # noqa: F403

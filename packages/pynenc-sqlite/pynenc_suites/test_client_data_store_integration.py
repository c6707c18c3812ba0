"""pynenc's integration suite of client data stores."""

from pynenc_tests.integration.test_client_data_store.all_tests import *  # noqa: F403

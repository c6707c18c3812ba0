"""pynenc's integration suite of app isolation: two apps on one backend see only their own."""

from pynenc_tests.integration.app_id_isolation.all_tests import *  # noqa: F403

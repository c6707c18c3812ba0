"""pynenc's unit suite of app isolation: two apps on one backend see only their own."""

from pynenc_tests.unit.app_id_isolation.all_tests import *  # noqa: F403

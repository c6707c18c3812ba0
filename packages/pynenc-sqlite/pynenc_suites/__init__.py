"""pynenc's reusable suites run against pynenc-sqlite (see conftest.py)."""

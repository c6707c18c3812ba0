"""pynenc-sqlite's state backend."""

"""pynenc-sqlite's broker."""

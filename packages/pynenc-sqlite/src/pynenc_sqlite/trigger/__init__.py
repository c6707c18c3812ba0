"""pynenc-sqlite's trigger."""

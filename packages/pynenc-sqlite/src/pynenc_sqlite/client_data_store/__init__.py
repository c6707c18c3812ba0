"""pynenc-sqlite's client data store."""

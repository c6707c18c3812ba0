"""pytest plugin of the orchestrator contract."""

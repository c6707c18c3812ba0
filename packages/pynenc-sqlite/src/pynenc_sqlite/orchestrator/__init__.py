"""The SQLite orchestrator."""

"""Configuration of pynenc-sqlite."""

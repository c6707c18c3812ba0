"""Benchmark of pynenc orchestrator backends side by side in one run: ``pynenc-bench``."""

"""Helpers shared by tests (the fixtures stay in conftest files, the tools live here)."""

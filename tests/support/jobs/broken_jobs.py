"""A job module with a bug at import time (for test_catalog): it must stop the start."""

raise ImportError("this module is broken on purpose")

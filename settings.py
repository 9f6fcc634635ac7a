"""All configuration, from the environment: see `jobs/settings.py`, where it is defined.

The definitions live inside the `jobs` package so that an installed copy ships no top-level
`settings` module: an application with its own `settings.py` imports its own, and ours is
`jobs.settings`. This module is the checkout's name for the same objects (the tests, `scripts/`
and `bench/` import it); it is not part of the distribution.
"""

from jobs.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]

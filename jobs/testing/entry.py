"""The pytest entry point of the kit (`pytest11`): loads `jobs.testing.plugin` when its one
extra need, `pytest-asyncio`, is installed (`pip install 'jobservice[testing]'`). Without it
the kit stays off and the host's pytest runs as if it were not installed: an entry point that
fails to import would stop every pytest run of that environment."""

import importlib.util

if importlib.util.find_spec("pytest_asyncio") is not None:
    from jobs.testing.plugin import (
        drain,
        jobs_redis,
        jobs_redis_url,
        jobs_settings,
        pytest_configure,
    )

    __all__ = ["drain", "jobs_redis", "jobs_redis_url", "jobs_settings", "pytest_configure"]

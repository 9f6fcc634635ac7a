"""The kit's entry point loads the plugin only where `pytest-asyncio` is installed: without it,
a host's pytest runs as if the kit were not there (an entry point that fails to import would
stop every pytest run of that environment)."""

import subprocess
import sys

HIDE_PYTEST_ASYNCIO = """
import sys
sys.modules["pytest_asyncio"] = None  # as if not installed: find_spec says None, import fails
import jobs.testing.entry as entry
print(sorted(n for n in vars(entry) if not n.startswith("_")))
"""


def test_without_pytest_asyncio_the_entry_point_adds_nothing() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", HIDE_PYTEST_ASYNCIO], capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "['importlib']"


def test_with_pytest_asyncio_it_brings_the_fixtures_and_the_hook() -> None:
    import jobs.testing.entry as entry

    assert {"drain", "jobs_redis", "jobs_settings", "pytest_configure"} <= set(vars(entry))

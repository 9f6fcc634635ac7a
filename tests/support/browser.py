"""The Chromium the dashboard's browser tests drive, and what happens when there is none."""

import shutil
from pathlib import Path

import pytest

from tests.support.environment import SuiteEnvironment

INSTALL = "apt-get install -y chromium"


def chromium_or_skip() -> str:
    """The path of a Chromium binary. Without one the browser tests skip, saying why; on CI
    (`CI=true`) they fail instead: there a missing browser is a broken setup (`.ci/run`
    installs it), not a reason to pass without running them."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if Path(path).exists():
        return path
    reason = f"no Chromium on PATH or at /usr/bin/chromium ({INSTALL})"
    if SuiteEnvironment().ci:
        pytest.fail(f"{reason}; CI=true, so the browser tests must run", pytrace=False)
    pytest.skip(reason)

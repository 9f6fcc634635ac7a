"""Fixtures for end-to-end tests: real worker and web processes against the test Redis
(`tests.support.processes`), killed at teardown whatever happened."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobs.layout.connection import RedisClient
from tests.support.processes import Processes


@pytest.fixture
async def processes(redis_url: str, redis: RedisClient, tmp_path: Path) -> AsyncIterator[Processes]:
    started = Processes(redis_url, redis, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()

"""Waiting on a condition with a deadline: how every test waits (never a fixed sleep)."""

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, interval_s: float = 0.02
) -> None:
    """Wait until `check()` is true, or fail at the deadline (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)


def eventually_sync(
    check: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.05
) -> None:
    """`eventually` for synchronous tests (a Playwright page's, which owns its own loop)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)

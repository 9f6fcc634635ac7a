"""The lifespan owns the Redis client and the event hub; nothing connects at import time."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.exceptions import RedisError

from jobs.connection import RedisClient, create_redis
from jobs.eviction import eviction_policy, policy_warning
from service.events import EventHub

logger = logging.getLogger("service")

EVICTION_CHECK_S = 3.0
"""The start-up check waits no longer than this: the web starts even if Redis is away."""


async def warn_about_eviction(redis: RedisClient) -> None:
    """Log loudly at start if the server may evict (drop) job keys; `/ready` reports it too."""
    try:
        async with asyncio.timeout(EVICTION_CHECK_S):
            policy = await eviction_policy(redis)
    except (RedisError, OSError) as exc:
        logger.warning("could not read the Redis eviction policy at start: %s", exc)
        return
    warning = policy_warning(policy)
    if warning:
        logger.warning(warning)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    redis = create_redis(app.state.settings)
    hub = EventHub(app.state.settings)
    app.state.redis = redis
    app.state.hub = hub
    await hub.start()
    await warn_about_eviction(redis)
    try:
        yield
    finally:
        await hub.stop()
        await redis.aclose()

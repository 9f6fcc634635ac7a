"""The lifespan owns the Redis client and the event hub; nothing connects at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from jobs import tracing
from jobs.layout.connection import create_redis
from jobs.layout.eviction import warn_unless_safe
from service.events import EventHub


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    redis = create_redis(app.state.settings)
    hub = EventHub(app.state.settings)
    app.state.redis = redis
    app.state.hub = hub
    await hub.start()
    await warn_unless_safe(redis)  # bounded: the web starts even if Redis is away
    try:
        yield
    finally:
        await hub.stop()
        await redis.aclose()
        tracing.flush()  # the last requests' spans, before the process ends

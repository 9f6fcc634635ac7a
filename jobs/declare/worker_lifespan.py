"""Worker lifespans: resources that live as long as the worker (a DB pool, an HTTP client).

    @worker_lifespan
    async def http_client(resources: dict[str, Any]) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=10) as client:
            resources["http"] = client
            yield

    @job()
    async def fetch(ctx: JobContext, payload: Url) -> Page:
        http: httpx.AsyncClient = ctx.resource("http")

Each declared lifespan is entered in order when the worker starts (before it claims a job) and
left in reverse order when it stops (after its last try has settled); one that fails to start
stops the worker at once. Declare them in a job module (they load with the catalog).
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

Lifespan = Callable[[dict[str, Any]], AbstractAsyncContextManager[None]]

LIFESPANS: list[Lifespan] = []


def worker_lifespan(
    function: Callable[[dict[str, Any]], AsyncIterator[None]],
) -> Lifespan:
    """Declare a worker lifespan: an async generator that sets up, yields once, cleans up."""
    managed = asynccontextmanager(function)
    LIFESPANS.append(managed)
    return managed

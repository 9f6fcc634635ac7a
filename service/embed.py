"""The job API and dashboard inside another FastAPI app, under a prefix of its choosing.

    jobs_app = create_app()
    app = FastAPI(lifespan=with_jobs(jobs_app))
    app.mount("/jobsvc", jobs_app)

Starlette runs no mounted app's lifespan, so the host runs it (`with_jobs`, which can wrap a
lifespan of the host's own). The mounted app keeps its own error handlers, API keys and body
limit; `Location` headers, the dashboard and its event streams follow the prefix.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI

HostLifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def with_jobs(
    jobs_app: FastAPI, host_lifespan: HostLifespan | None = None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan for the host app that runs `jobs_app`'s (and the host's own, inside it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        host = host_lifespan(app) if host_lifespan else nullcontext()
        async with jobs_app.router.lifespan_context(jobs_app), host:
            yield

    return lifespan

"""The job service inside another FastAPI app: `JobsDep` in its own routes, the job API and
dashboard under a prefix of its choosing.

An app that only enqueues needs the lifespan alone:

    app = FastAPI(lifespan=jobs_lifespan())          # or jobs_lifespan(Settings(...), yours)

    @app.post("/orders")
    async def place_order(order: Order, jobs: JobsDep) -> ...: ...

One that also serves the job API mounts it:

    jobs_app = create_app()                          # or create_app(Settings(...))
    app = FastAPI(lifespan=with_jobs(jobs_app))      # with_jobs(jobs_app, yours)
    app.mount("/jobsvc", jobs_app)

Starlette runs no mounted app's lifespan, so the host runs it (`with_jobs`, which can wrap a
lifespan of the host's own), and hands the host the same `JobClient`. The mounted app keeps its
own error handlers, API keys and body limit; `Location` headers, the dashboard and its event
streams follow the prefix (its `root_path`). `include_router` cannot give the API those: they
are app-level (exception handlers, ASGI middlewares, the OpenAPI override, `root_path`).
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI

from jobs.client import JobClient
from jobs.layout.connection import create_redis
from jobs.settings import Settings, get_settings
from service.deps import share_job_client

HostLifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def jobs_lifespan(
    settings: Settings | None = None, host_lifespan: HostLifespan | None = None
) -> Lifespan:
    """A lifespan that gives the app's routes `JobsDep` (its own Redis client, closed at the
    end), and runs the host's own lifespan inside it. Settings unset: `get_settings()` when the
    app starts (so tests can point `REDIS_URL` elsewhere after import)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chosen = settings or get_settings()
        redis = create_redis(chosen)
        share_job_client(app, JobClient(redis, chosen))
        host = host_lifespan(app) if host_lifespan else nullcontext()
        try:
            async with host:
                yield
        finally:
            await redis.aclose()

    return lifespan


def with_jobs(jobs_app: FastAPI, host_lifespan: HostLifespan | None = None) -> Lifespan:
    """A lifespan for the host app that runs `jobs_app`'s (and the host's own, inside it), and
    gives the host's routes `JobsDep` on `jobs_app`'s Redis client and settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        host = host_lifespan(app) if host_lifespan else nullcontext()
        async with jobs_app.router.lifespan_context(jobs_app):
            share_job_client(app, JobClient(jobs_app.state.redis, jobs_app.state.settings))
            async with host:
                yield

    return lifespan

"""Typed dependencies: what a route needs, taken from the app state the lifespan built."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from jobs.client import JobClient
from jobs.declare.registry import JobSpec
from jobs.layout.connection import RedisClient
from jobs.settings import Settings
from service.events import EventHub
from service.streams import StreamSlots


async def get_redis(request: Request) -> RedisClient:
    redis: RedisClient = request.app.state.redis
    return redis


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_catalog(request: Request) -> dict[str, JobSpec]:
    catalog: dict[str, JobSpec] = request.app.state.catalog
    return catalog


async def get_hub(request: Request) -> EventHub:
    hub: EventHub = request.app.state.hub
    return hub


JOB_CLIENT = "job_client"
"""The app state attribute a host's lifespan fills (`service.embed`): a name of our own, so a
host's `app.state.settings` or `.redis` stay its own."""


def share_job_client(app: FastAPI, client: JobClient) -> None:
    setattr(app.state, JOB_CLIENT, client)


async def get_job_client(request: Request) -> JobClient:
    shared: JobClient | None = getattr(request.app.state, JOB_CLIENT, None)
    if shared is not None:  # a host app (service.embed)
        return shared
    state = request.app.state
    if not hasattr(state, "redis"):
        raise RuntimeError(
            "JobsDep needs the app's lifespan to connect: FastAPI(lifespan=jobs_lifespan()) "
            "or with_jobs(jobs_app) (service.embed)"
        )
    return JobClient(state.redis, state.settings)


RedisDep = Annotated[RedisClient, Depends(get_redis)]
JobsDep = Annotated[JobClient, Depends(get_job_client)]
"""The typed enqueueing API (`jobs.client.JobClient`) for routes of your own."""
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CatalogDep = Annotated[dict[str, JobSpec], Depends(get_catalog)]
HubDep = Annotated[EventHub, Depends(get_hub)]


async def get_stream_slots(request: Request) -> StreamSlots:
    slots: StreamSlots = request.app.state.stream_slots
    return slots


StreamSlotsDep = Annotated[StreamSlots, Depends(get_stream_slots)]


async def hold_stream_slot(slots: StreamSlotsDep) -> AsyncIterator[None]:
    """A slot for the whole of an event stream: the response streams after the route returns,
    and a dependency with `yield` ends only once the response is over (request scope)."""
    with slots.hold():
        yield

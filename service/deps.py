"""Typed dependencies: what a route needs, taken from the app state the lifespan built."""

from typing import Annotated

from fastapi import Depends, Request

from jobs.client import JobClient
from jobs.declare.registry import JobSpec
from jobs.layout.connection import RedisClient
from jobs.settings import Settings
from service.events import EventHub


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


async def get_job_client(request: Request) -> JobClient:
    return JobClient(request.app.state.redis, request.app.state.settings)


RedisDep = Annotated[RedisClient, Depends(get_redis)]
JobsDep = Annotated[JobClient, Depends(get_job_client)]
"""The typed enqueueing API (`jobs.client.JobClient`) for routes of your own."""
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CatalogDep = Annotated[dict[str, JobSpec], Depends(get_catalog)]
HubDep = Annotated[EventHub, Depends(get_hub)]

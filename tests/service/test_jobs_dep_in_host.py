"""`JobsDep` in a host app's own routes: with the lifespan alone (an app that only enqueues),
and beside the mounted job API; the host's own lifespan and state stay its own."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from jobs.reading.job_record import JobStatus
from jobs.tasks.ping import Ping, ping
from jobs.testing.drain import Drain
from service.deps import JobsDep
from service.embed import jobs_lifespan, with_jobs
from service.main import create_app
from settings import Settings
from tests.support.workers import RunWorker


class Order(BaseModel):
    item: str


def add_orders(host: FastAPI) -> None:
    @host.post("/orders", status_code=202)
    async def place_order(order: Order, jobs: JobsDep) -> dict[str, str]:
        handle = await jobs.enqueue(ping, Ping(message=order.item))
        return {"job": handle.id}


@asynccontextmanager
async def host_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = "the host's own"  # a host's state is not the job service's
    app.state.started = True
    yield


@asynccontextmanager
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_a_host_that_only_enqueues_needs_the_lifespan_alone(drain: Drain) -> None:
    # No settings given: the environment's, which the test kit points at its server.
    host = FastAPI(lifespan=jobs_lifespan(host_lifespan=host_lifespan))
    add_orders(host)
    async with http(host) as client:
        placed = await client.post("/orders", json={"item": "teapot"})
        assert placed.status_code == 202, placed.text
        assert host.state.started and host.state.settings == "the host's own"
        (view,) = await drain()
        assert view.id == placed.json()["job"]
        assert view.status is JobStatus.complete and view.result["message"] == "teapot"


async def test_a_host_given_settings_in_code_uses_them(
    settings: Settings, run_worker: RunWorker
) -> None:
    host = FastAPI(lifespan=jobs_lifespan(settings))
    add_orders(host)
    async with http(host) as client:
        placed = await client.post("/orders", json={"item": "saucer"})
        assert host.state.job_client.settings is settings
        await run_worker()
        view = await host.state.job_client.record(placed.json()["job"])
        assert view.status is JobStatus.complete


async def test_a_host_with_the_mounted_api_enqueues_from_its_own_route(
    settings: Settings, drain: Drain
) -> None:
    jobs_app = create_app(settings)
    host = FastAPI(lifespan=with_jobs(jobs_app, host_lifespan))
    add_orders(host)
    host.mount("/jobsvc", jobs_app)
    async with http(host) as client:
        placed = await client.post("/orders", json={"item": "kettle"})
        assert placed.status_code == 202, placed.text
        await drain()
        done = (await client.get(f"/jobsvc/jobs/{placed.json()['job']}")).json()
        assert done["status"] == "complete" and done["result"]["message"] == "kettle"
        assert host.state.started and host.state.settings == "the host's own"


async def test_without_the_lifespan_jobs_dep_says_what_is_missing() -> None:
    host = FastAPI()
    add_orders(host)
    transport = httpx.ASGITransport(app=host, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match="jobs_lifespan"):
            await client.post("/orders", json={"item": "cup"})

"""The job service mounted in another FastAPI app under a prefix: it starts with the host,
and its answers (Location, dashboard, events) carry the prefix."""

import httpx
from fastapi import FastAPI

from jobs.layout.connection import RedisClient
from service.embed import with_jobs
from service.main import create_app
from settings import Settings
from tests.support.workers import RunWorker


async def test_mounted_under_a_prefix_the_service_answers_there(
    settings: Settings, redis: RedisClient, run_worker: RunWorker
) -> None:
    jobs_app = create_app(settings)
    host = FastAPI(lifespan=with_jobs(jobs_app))

    @host.get("/hello")
    async def hello() -> dict[str, str]:
        return {"host": "yes"}

    host.mount("/jobsvc", jobs_app)
    async with host.router.lifespan_context(host):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/hello")).json() == {"host": "yes"}
            created = await client.post("/jobsvc/jobs/ping", json={"message": "mounted"})
            assert created.status_code == 202, created.text
            location = created.headers["location"]
            assert location == f"/jobsvc/jobs/{created.json()['id']}"
            await run_worker()
            done = (await client.get(location, params={"wait": 5})).json()
            assert done["status"] == "complete" and done["result"]["message"] == "mounted"
            dashboard = await client.get("/jobsvc/", follow_redirects=True)
            assert dashboard.status_code == 200 and dashboard.url.path == "/jobsvc/dashboard/"
            assert (await client.get("/jobsvc/dashboard/app.js")).status_code == 200
            assert (await client.get("/jobsvc/health")).json() == {"status": "ok"}
            # The mounted app keeps its own error shape.
            missing = await client.get("/jobsvc/jobs/nope")
            assert missing.status_code == 404 and missing.json()["error"]["code"]

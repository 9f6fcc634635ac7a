"""`callback_url` over HTTP (the app in-process): refused before anything is written when
webhooks are not configured or the URL is not allowed; accepted on single and bulk enqueues,
each job created with its delivery; the HTTP client passes it."""

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from jobs.webhooks.callback import delivery_for
from service.http_client import JobServiceClient, JobServiceError
from service.main import create_app
from settings import Settings

URL = "https://hooks.example.com/done"


@pytest.fixture
async def configured(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a signing secret (the default address policy)."""
    app = create_app(settings.model_copy(update={"webhook_secret": SecretStr("s")}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def test_without_a_secret_a_callback_is_422_and_nothing_is_enqueued(
    client: httpx.AsyncClient,
) -> None:
    for path, body in (("/jobs/ping", {}), ("/jobs/ping/bulk", [{}])):
        answer = await client.post(path, json=body, params={"callback_url": URL})
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "webhooks_not_configured"
        assert "WEBHOOK_SECRET" in error["message"]
    assert (await client.get("/jobs")).json()["jobs"] == []


async def test_a_job_and_its_delivery_are_enqueued_together(
    configured: httpx.AsyncClient,
) -> None:
    answer = await configured.post("/jobs/ping", json={}, params={"callback_url": URL})
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    job_id = answer.json()["id"]
    delivery = (await configured.get(f"/jobs/{delivery_for(job_id, URL).job_id}")).json()
    assert delivery["name"] == "jobsvc.deliver_webhook"
    assert delivery["status"] == "waiting" and delivery["after"] == [job_id]
    bulk = await configured.post("/jobs/ping/bulk", json=[{}, {}], params={"callback_url": URL})
    assert bulk.status_code == 202
    for job in bulk.json()["jobs"]:
        found = await configured.get(f"/jobs/{delivery_for(job['id'], URL).job_id}")
        assert found.status_code == 200 and found.json()["after"] == [job["id"]]


async def test_the_http_client_sends_the_callback_url(configured: httpx.AsyncClient) -> None:
    jobs = JobServiceClient("http://test", transport=configured._transport)
    view = await jobs.enqueue("ping", callback_url=URL)
    delivery = await jobs.get(delivery_for(view.id, URL).job_id)
    assert delivery.input == {
        "job_id": view.id,
        "url": URL,
        "event_id": delivery_for(view.id, URL).event_id,
    }
    with pytest.raises(JobServiceError) as refused:
        await jobs.enqueue("ping", callback_url="https://192.168.0.1/")
    assert refused.value.status == 422 and refused.value.code == "callback_refused"


async def test_a_callback_with_credentials_is_422_and_nothing_is_enqueued(
    configured: httpx.AsyncClient,
) -> None:
    url = "https://user:s3cret@hooks.example.com/done"
    before = (await configured.get("/jobs")).json()["jobs"]
    answer = await configured.post("/jobs/ping", json={}, params={"callback_url": url})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "callback_refused" and "s3cret" not in answer.text
    assert (await configured.get("/jobs")).json()["jobs"] == before

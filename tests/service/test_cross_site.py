"""Which changes a browser's credentials may make (`service/cross_site.py`), rule by rule,
against the app in-process; `tests/e2e/test_cross_site_e2e.py` runs the attack against a real
web process."""

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from jobs.layout.connection import RedisClient
from service.main import create_app
from settings import Settings

KEY = "s3cret-key-0123456789"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"operator:{KEY}".encode()).decode()}
BEARER = {"Authorization": f"Bearer {KEY}"}
EVIL = "https://evil.example"
PAUSE = "/queues/arq:queue/pause"


@pytest.fixture
async def keyed(settings: Settings, redis: RedisClient) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"api_keys": [KEY]}))
    async with app.router.lifespan_context(app), _client(app) as client:
        yield client


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jobs.test")


async def _paused(client: httpx.AsyncClient) -> set[str]:
    queues = (await client.get("/queues", headers=BEARER)).json()
    return {queue["name"] for queue in queues if queue["paused"]}


def _refused(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.json()["error"]["code"] == (
        "cross_site_refused"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        # Another site's word wins over a header that would otherwise prove the dashboard.
        {"Origin": EVIL, "X-Requested-By": "jobsvc-dashboard"},
        {"Sec-Fetch-Site": "cross-site", "X-Requested-By": "jobsvc-dashboard"},
        # Basic credentials and nothing to show where the request comes from.
        {},
        # A form's content type, even from our own origin.
        {"Origin": "http://jobs.test", "Content-Type": "application/x-www-form-urlencoded"},
        {"X-Requested-By": "jobsvc-dashboard", "Content-Type": "text/plain"},
        {"Sec-Fetch-Site": "same-origin", "Content-Type": "multipart/form-data; boundary=x"},
    ],
)
async def test_a_change_with_browser_credentials_from_elsewhere_is_refused(
    keyed: httpx.AsyncClient, redis: RedisClient, headers: dict[str, str]
) -> None:
    response = await keyed.post(PAUSE, headers={**BASIC, **headers})
    assert _refused(response), response.text
    assert await _paused(keyed) == set()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Requested-By": "jobsvc-dashboard"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://jobs.test"},
        {"Origin": "http://jobs.test", "Sec-Fetch-Site": "same-origin"},
    ],
)
async def test_a_change_from_our_own_pages_passes(
    keyed: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert (await keyed.post(PAUSE, headers={**BASIC, **headers})).status_code == 204
    assert await _paused(keyed) == {"arq:queue"}


async def test_bearer_clients_are_unaffected(keyed: httpx.AsyncClient) -> None:
    """A browser never adds a bearer token by itself: whatever else the request says, it was
    sent by something that holds the key."""
    headers = {**BEARER, "Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"}
    assert (await keyed.post(PAUSE, headers=headers)).status_code == 204
    enqueued = await keyed.post("/jobs/ping", headers={**BEARER, "Origin": EVIL}, json={})
    assert enqueued.status_code == 202, enqueued.text


async def test_reads_are_not_concerned(keyed: httpx.AsyncClient) -> None:
    response = await keyed.get("/queues", headers={**BASIC, "Origin": EVIL})
    assert response.status_code == 200


async def test_without_keys_a_browser_on_another_site_still_cannot_act(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}):
        assert _refused(await client.post(PAUSE, headers=headers))
    # curl, scripts, servers: no browser headers, nothing asked.
    assert (await client.post(PAUSE)).status_code == 204
    assert (await client.post(PAUSE, headers={"Origin": "http://test"})).status_code == 204

"""The cross-site attack of issue 23 against a real web process: a page on another site makes
the operator's browser (holding the dashboard's Basic credentials) post forms to the service.
Each is refused and changes nothing; the dashboard's own requests still act."""

import base64

import httpx
import pytest

from tests.support.processes import Processes

pytestmark = pytest.mark.e2e

KEY = "operator-key-0123456789"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"operator:{KEY}".encode()).decode()}
BEARER = {"Authorization": f"Bearer {KEY}"}
# What a browser sends with a form another site's page submits.
FORM_FROM_EVIL = {
    "Origin": "https://evil.example",
    "Sec-Fetch-Site": "cross-site",
    "Content-Type": "application/x-www-form-urlencoded",
}
ATTACKS = [
    "/queues/arq:queue/pause",
    "/failed/retry",
    "/cron/cleanup_job_records/run",
    "/jobs/ping?defer_by=1",
]


async def _state(client: httpx.AsyncClient) -> tuple[int, set[str]]:
    """(jobs listed, paused queues), read with the bearer key."""
    jobs = (await client.get("/jobs", params={"limit": 200}, headers=BEARER)).json()["jobs"]
    queues = (await client.get("/queues", headers=BEARER)).json()
    return len(jobs), {queue["name"] for queue in queues if queue["paused"]}


async def test_forms_posted_from_another_site_with_the_dashboards_credentials_do_nothing(
    processes: Processes,
) -> None:
    url = await processes.web(API_KEYS=KEY)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        before = await _state(client)
        for path in ATTACKS:
            refused = await client.post(path, headers={**BASIC, **FORM_FROM_EVIL}, content=b"a=1")
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["error"]["code"] == "cross_site_refused"
        # The same without the browser's headers but with Basic (a no-cors fetch from an old
        # browser, say): nothing shows it comes from the dashboard.
        bare = await client.post("/queues/arq:queue/pause", headers=BASIC)
        assert bare.status_code == 403
        assert await _state(client) == before == (0, set())

        # The dashboard's own requests act: its header, or the browser's same-origin word.
        dashboard = {**BASIC, "X-Requested-By": "jobsvc-dashboard"}
        assert (await client.post("/queues/arq:queue/pause", headers=dashboard)).status_code == 204
        same_origin = {**BASIC, "Sec-Fetch-Site": "same-origin"}
        enqueued = await client.post("/jobs/ping", headers=same_origin, json={})
        assert enqueued.status_code == 202
        # API clients are unaffected.
        ran = await client.post("/cron/cleanup_job_records/run", headers=BEARER)
        assert ran.status_code == 202
        assert await _state(client) == (2, {"arq:queue"})


async def test_without_api_keys_a_page_of_another_site_cannot_act_through_the_browser(
    processes: Processes,
) -> None:
    """Local runs have no key: any page the developer visits could post to localhost."""
    url = await processes.web()
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for path in ATTACKS:
            refused = await client.post(path, headers=FORM_FROM_EVIL, content=b"a=1")
            assert refused.status_code == 403, (path, refused.text)
        assert await _state(client) == (0, set())
        # curl and scripts send no browser headers: nothing changes for them.
        assert (await client.post("/jobs/ping", json={})).status_code == 202

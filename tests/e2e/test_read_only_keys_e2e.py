"""A scraper's key (`API_KEYS_READ`) against a real web process: it reads the API and the
metrics, and every change it asks for is a 403 that changes nothing (issue 23: every key was
an admin key, the scraper's could purge and pause)."""

import httpx
import pytest

from tests.support.processes import Processes

pytestmark = pytest.mark.e2e

ADMIN = "admin-key-0123456789abcdef"
SCRAPER = "scraper-key-0123456789abcdef"


async def test_a_read_only_key_reads_and_cannot_purge_pause_or_enqueue(
    processes: Processes,
) -> None:
    url = await processes.web(API_KEYS=ADMIN, API_KEYS_READ=SCRAPER)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(
        base_url=url, timeout=10, headers={"Authorization": f"Bearer {SCRAPER}"}
    ) as scraper:
        job = await scraper.post("/jobs/ping", json={}, headers=admin)  # the admin enqueues
        assert job.status_code == 202
        for method, path in [
            ("POST", "/jobs/ping"),
            ("DELETE", f"/jobs/{job.json()['id']}"),
            ("POST", "/queues/arq:queue/pause"),
            ("DELETE", "/failed"),
            ("POST", "/cron/cleanup_job_records/run"),
        ]:
            refused = await scraper.request(method, path, json={} if method == "POST" else None)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["error"]["code"] == "read_only_key"
        assert (await scraper.get("/metrics")).status_code == 200
        listed = (await scraper.get("/jobs")).json()["jobs"]
        assert [view["id"] for view in listed] == [job.json()["id"]]  # nothing enqueued
        assert listed[0]["abort_requested"] is False
        assert not any(queue["paused"] for queue in (await scraper.get("/queues")).json())

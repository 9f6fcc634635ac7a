"""Another service's view: the HTTP clients (async and sync) against the real processes."""

import asyncio

import pytest

from service.http_client import JobServiceClient, JobServiceError, SyncJobServiceClient
from tests.support.processes import Processes

pytestmark = pytest.mark.e2e


async def test_async_and_sync_clients_enqueue_wait_and_see_errors(processes: Processes) -> None:
    url = await processes.web()
    await processes.worker()
    async with JobServiceClient(url) as jobs:
        view = await jobs.enqueue("ping", {"message": "over http"}, priority=2)
        assert view.status == "queued" and view.priority == 2
        done = await jobs.wait(view.id, timeout=10)
        assert done.status == "complete" and done.result["message"] == "over http"
        with pytest.raises(JobServiceError) as caught:
            await jobs.enqueue("ping", {"sleep_s": "soon"})
        assert caught.value.status == 422 and caught.value.code == "invalid_input"
        with pytest.raises(JobServiceError) as missing:
            await jobs.get("no-such-job")
        assert missing.value.status == 404

    def sync_round_trip() -> str:
        with SyncJobServiceClient(url) as sync_jobs:
            created = sync_jobs.enqueue("ping", {"message": "sync"}, defer_by=0)
            return str(sync_jobs.wait(created.id, timeout=10).result["message"])

    assert await asyncio.to_thread(sync_round_trip) == "sync"

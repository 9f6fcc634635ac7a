"""A rolling deploy with real worker processes: a worker of the previous release claims a job
only the new release declares. It puts the job back for a worker that knows it (the try not
counted) and `/queues` shows it waiting; a new worker runs it; only after
`UNKNOWN_JOB_GRACE_S` does an old worker fail it `UnknownJob`."""

from typing import Any

import pytest

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.jobs.next_release_jobs import MODULES
from tests.support.jobs_api import JobsApi
from tests.support.processes import Processes, exit_code, sigterm
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
NEW_JOB = "added_in_the_next_release"


async def _queue(api: JobsApi, name: str) -> dict[str, Any]:
    response = await api.client.get("/queues")
    assert response.status_code == 200, response.text
    (figures,) = [q for q in response.json() if q["name"] == name]
    return dict(figures)


async def test_an_old_worker_puts_a_new_job_back_and_a_new_worker_runs_it(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    old = await processes.worker()  # the previous release: JOB_MODULES without the new job
    url = await processes.web(JOB_MODULES=MODULES)
    enqueued = await enqueue(redis, NEW_JOB, {"feature": "x"}, settings=settings)
    async with JobsApi(url) as api:

        async def put_back() -> bool:
            # All three at once: deferred by the old worker, its try not counted, and listed.
            view = await api.view(enqueued.job_id)
            queue = await _queue(api, settings.queue_name)
            return bool(
                view["status"] == "deferred"
                and view["tries"] == 0
                and queue["unknown_jobs"] == 1
                and queue["unknown_job_names"] == [NEW_JOB]
            )

        await eventually(put_back, timeout_s=15)
        assert "put back for a worker that knows it" in processes.log_of(old).read_text()

        # The old worker is replaced by one of the new release (the deploy rolls on).
        sigterm(old.process)
        assert await exit_code(old.process) == 0
        new = await processes.worker(JOB_MODULES=MODULES)

        async def complete() -> bool:
            return bool((await api.view(enqueued.job_id))["status"] == "complete")

        await eventually(complete, timeout_s=20)  # once the put-back's delay has run out
        done = await api.view(enqueued.job_id)
        assert done["tries"] == 1
        assert done["result"] == {"feature": "x", "tries": 1, "worker": new.worker_id}
        queue = await _queue(api, settings.queue_name)
        assert queue["unknown_jobs"] == 0 and queue["unknown_job_names"] == []
    assert await redis.exists(keys.queue(settings.queue_name).unknown) == 0


async def test_an_old_worker_fails_the_new_job_once_the_grace_is_over(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    worker = await processes.worker(UNKNOWN_JOB_GRACE_S="1")
    url = await processes.web()
    enqueued = await enqueue(redis, NEW_JOB, {"feature": "y"}, settings=settings)
    async with JobsApi(url) as api:

        async def failed() -> bool:
            return bool((await api.view(enqueued.job_id))["status"] == "failed")

        await eventually(failed, timeout_s=15)
        view = await api.view(enqueued.job_id)
        assert view["tries"] == 1  # however often it was put back meanwhile
        assert view["error"]["type"] == "UnknownJob" and view["error"]["retryable"] is False
        assert NEW_JOB in view["error"]["message"]
        queue = await _queue(api, settings.queue_name)
        assert queue["unknown_jobs"] == 0 and queue["failed"] == 1
    assert worker.process.poll() is None

"""Chaos: Redis stops cleanly and starts again (append-only file on) while jobs run.

While it is down the API answers 503 JSON with Retry-After; the worker survives, keeps the
results of tries that ended meanwhile, reconnects by itself, and every job ends complete after
one try. "Written once" is also checked on the `finished` events, with a blind spot: events
published before our subscription is back after the restart are not seen.
"""

import time
from pathlib import Path

import httpx
import pytest

from jobs.layout.connection import create_redis
from settings import Settings
from tests.support.durable_valkey import DurableValkey
from tests.support.job_events import job_events
from tests.support.jobs_api import JobsApi
from tests.support.load import enqueue_each
from tests.support.processes import Processes
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

JOBS = 1000
SLEEP_S = 0.2
"""With 100 at a time, the queue takes about 2 s to drain: the stop comes well before that."""
LEASE_S = "10"
"""Longer than the outage: a clean restart must not make running jobs look abandoned."""


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "redis_unavailable"


async def test_redis_restart_with_aof_under_load_loses_nothing(
    tmp_path: Path, settings: Settings
) -> None:
    server = DurableValkey(tmp_path / "valkey", appendfsync="always")
    await server.start()
    redis = create_redis(settings.model_copy(update={"redis_url": server.url}))
    stack = Processes(server.url, redis, tmp_path)
    try:
        url = await stack.web()
        worker = await stack.worker(LEASE_S=LEASE_S)
        async with job_events(redis) as events, JobsApi(url) as api:
            payloads = [{"sleep_s": SLEEP_S}] * JOBS
            ids = await enqueue_each(redis, "ping", payloads, settings)

            async def under_way() -> bool:
                return len(events.finished) >= JOBS // 5

            await eventually(under_way, timeout_s=30)
            log = stack.log_of(worker)
            log_offset = log.stat().st_size
            assert await server.stop() == 0
            stopped_at = time.monotonic()
            finished_before_stop = len(events.finished)
            assert finished_before_stop < JOBS, "the load was over before Redis stopped"

            _assert_unavailable(await api.get(ids[-1]))
            _assert_unavailable(await api.client.post("/jobs/ping", json={}))

            async def results_held() -> bool:
                # Stay down while tries end with nowhere to write their results (the worker
                # retries a few times, with backoff, before we bring the server back).
                assert worker.process.poll() is None, "the worker died with Redis"
                return log.read_bytes()[log_offset:].count(b"could not settle") >= 3

            await eventually(results_held)
            await server.start()
            outage_s = time.monotonic() - stopped_at

            async def all_complete() -> bool:
                assert worker.process.poll() is None, "the worker exited"
                views = await api.listed("ping")
                return all(i in views and views[i]["status"] == "complete" for i in ids)

            # Waited for over HTTP, not by events: the worker may write what it held before
            # our subscription is back, and those `finished` events are not seen here.
            await eventually(all_complete, timeout_s=60, interval_s=0.1)
            stop_to_all_complete_s = time.monotonic() - stopped_at
            views = await api.listed("ping")
        lost = [i for i in ids if i not in views or views[i]["status"] != "complete"]
        doubled = events.doubled()
        retried = [i for i in ids if i in views and views[i]["tries"] != 1]
        report(
            "redis restart (AOF, appendfsync always)",
            jobs=JOBS,
            lost=len(lost),
            doubled=len(doubled),
            tries_not_1=len(retried),
            finished_before_stop=finished_before_stop,
            outage_s=round(outage_s, 2),
            stop_to_all_complete_s=round(stop_to_all_complete_s, 2),
            finished_events_seen=len(events.finished),
        )
        assert lost == []
        assert doubled == []
        assert retried == [], "a try was burned by the restart"
        assert {views[i]["result"]["worker"] for i in ids} == {worker.worker_id}
        assert worker.process.poll() is None
    finally:
        stack.kill_all()
        await redis.aclose()
        server.kill()

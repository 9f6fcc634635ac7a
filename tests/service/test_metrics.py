"""`/metrics` and `/stats` report what the workers did, read from Redis at scrape time."""

import httpx

from jobs.worker.loop import Worker
from tests.support.metrics import Samples, metric_samples
from tests.support.waiting import eventually
from tests.support.workers import RunWorker


def _get(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def test_metrics_count_what_the_workers_ran(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    for i in range(5):
        assert (await client.post("/jobs/ping", json={"message": f"m{i}"})).status_code == 202
    await client.post("/jobs/ping", json={"fail_times": 2})
    await client.post("/jobs/always_permanent", json={})
    await run_worker()

    samples = await metric_samples(client)
    assert _get(samples, "jobsvc_jobs_total", job="ping", outcome="complete") == 6
    assert _get(samples, "jobsvc_jobs_total", job="ping", outcome="retried") == 2
    assert _get(samples, "jobsvc_jobs_total", job="always_permanent", outcome="failed") == 1
    assert _get(samples, "jobsvc_job_duration_seconds_count", job="ping") == 8
    assert _get(samples, "jobsvc_job_duration_seconds_bucket", job="ping", le="+Inf") == 8
    assert _get(samples, "jobsvc_pickup_latency_seconds_count") == 7
    # Every try's lateness (start minus due), retries included: 5 + 3 pings, 1 permanent.
    assert _get(samples, "jobsvc_job_lateness_seconds_count", queue="arq:queue") == 9
    assert _get(samples, "jobsvc_job_lateness_seconds_sum", queue="arq:queue") > 0
    assert _get(samples, "jobsvc_job_lateness_seconds_bucket", queue="arq:queue", le="+Inf") == 9
    assert _get(samples, "jobsvc_queue_jobs", queue="arq:queue", state="failed") == 1
    assert _get(samples, "jobsvc_queue_jobs", queue="arq:queue", state="queued") == 0


async def test_metrics_show_backlog_and_live_workers(
    client: httpx.AsyncClient, background_worker: Worker
) -> None:
    await client.post("/jobs/ping", params={"defer_by": 3600}, json={})

    async def one_worker_seen() -> bool:
        return _get(await metric_samples(client), "jobsvc_workers") == 1

    await eventually(one_worker_seen)
    samples = await metric_samples(client)
    assert _get(samples, "jobsvc_queue_jobs", queue="arq:queue", state="deferred") == 1
    assert _get(samples, "jobsvc_oldest_running_seconds", queue="arq:queue") == 0
    worker_ages = [
        v for (name, _), v in samples.items() if name == "jobsvc_worker_heartbeat_age_seconds"
    ]
    assert len(worker_ages) == 1


async def test_stats_give_per_job_totals_and_workers(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    await client.post("/jobs/ping", json={"fail_times": 1})
    await client.post("/jobs/always_permanent", json={})
    await run_worker()

    stats = (await client.get("/stats")).json()
    by_name = {j["name"]: j for j in stats["jobs"]}
    assert by_name["ping"]["complete"] == 1 and by_name["ping"]["retried"] == 1
    assert by_name["always_permanent"]["failed"] == 1
    assert by_name["ping"]["mean_duration_s"] is not None
    assert stats["workers"] == []  # the burst worker left


async def test_history_counts_each_minutes_outcomes_across_workers(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    await client.post("/jobs/ping", json={})
    await client.post("/jobs/always_permanent", json={})
    await run_worker()  # a burst worker flushes its counts when it stops
    minutes = (await client.get("/stats/history")).json()
    assert len(minutes) == 60 and minutes == sorted(minutes, key=lambda m: m["at"])
    assert sum(m["complete"] for m in minutes) == 1
    assert sum(m["failed"] for m in minutes) == 1

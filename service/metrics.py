"""Prometheus metrics, computed from Redis at scrape time (right with any number of workers).

The web process keeps no counters of its own: it reads the queue, the workers' heartbeats and
the stats hash the workers add to (`jobs/stats.py`), and a custom collector turns that reading
into metric families.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from jobs import heartbeat, stats, webhooks
from jobs.connection import RedisClient
from jobs.registry import JobSpec
from service.routes.queues import queue_stats
from service.schemas import QueueStats
from settings import Settings

STATES = ("queued", "deferred", "in_progress", "failed")


@dataclass
class Reading:
    """Everything a scrape reports, read from Redis in a few round trips."""

    queues: list[QueueStats]
    workers: dict[str, float]
    """Live worker id -> seconds since its heartbeat."""
    details: list[dict[str, Any]]
    stats: stats.Snapshot
    now_ms: int
    deliveries: webhooks.DeliveryStats | None = None

    def oldest_running_s(self, queue: str | None = None) -> float:
        """Age of the longest-running try (on `queue`, or anywhere), per the heartbeats: 0 when
        nothing runs. A worker reports its oldest try across the queues it serves."""
        starts = [
            int(d["oldest_started_ms"])
            for d in self.details
            if (queue is None or queue in d.get("queues", []))
            and d.get("running")
            and d.get("oldest_started_ms")
        ]
        return max((self.now_ms - min(starts)) / 1000, 0.0) if starts else 0.0


async def read(redis: RedisClient, catalog: dict[str, JobSpec], settings: Settings) -> Reading:
    queues = await queue_stats(redis, catalog, settings)
    workers = await heartbeat.live_workers(redis)
    details = await heartbeat.worker_details(redis, list(workers))
    snapshot = await stats.read(redis)
    deliveries = await webhooks.delivery_stats(redis)
    return Reading(queues, workers, details, snapshot, int(time.time() * 1000), deliveries)


class ReadingCollector(Collector):
    """Metric families from one `Reading`."""

    def __init__(self, reading: Reading) -> None:
        self.reading = reading

    def collect(self) -> Iterator[Metric]:
        yield from self._queue_metrics()
        yield from self._worker_metrics()
        yield from self._job_metrics()
        yield from self._webhook_metrics()

    def _queue_metrics(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "jobsvc_queue_jobs", "Jobs per queue and state.", labels=["queue", "state"]
        )
        oldest = GaugeMetricFamily(
            "jobsvc_queue_oldest_waiting_seconds",
            "Age of the oldest job ready to run (0 when none waits).",
            labels=["queue"],
        )
        paused = GaugeMetricFamily(
            "jobsvc_queue_paused",
            "1 while the queue is paused (it starts no job).",
            labels=["queue"],
        )
        running = GaugeMetricFamily(
            "jobsvc_oldest_running_seconds",
            "How long the longest-running try has run (0 when none runs).",
            labels=["queue"],
        )
        for q in self.reading.queues:
            for state in STATES:
                depth.add_metric([q.name, state], getattr(q, state))
            oldest.add_metric([q.name], q.oldest_waiting_s or 0.0)
            paused.add_metric([q.name], 1.0 if q.paused else 0.0)
            running.add_metric([q.name], self.reading.oldest_running_s(q.name))
        yield from (depth, oldest, paused, running)

    def _worker_metrics(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "jobsvc_workers",
            "Workers with a heartbeat in the last 30 s.",
            len(self.reading.workers),
        )
        age = GaugeMetricFamily(
            "jobsvc_worker_heartbeat_age_seconds",
            "Seconds since each live worker's last heartbeat.",
            labels=["worker"],
        )
        for worker, seconds in sorted(self.reading.workers.items()):
            age.add_metric([worker], seconds)
        yield age

    def _job_metrics(self) -> Iterator[Metric]:
        snap = self.reading.stats
        outcomes = CounterMetricFamily(
            "jobsvc_jobs",
            "Finished tries by job and outcome (complete, failed, aborted, retried).",
            labels=["job", "outcome"],
        )
        for (job, outcome), count in sorted(snap.outcomes.items()):
            outcomes.add_metric([job, outcome], count)
        yield outcomes
        durations = HistogramMetricFamily(
            "jobsvc_job_duration_seconds", "Duration of each try, by job.", labels=["job"]
        )
        for job, hist in sorted(snap.durations.items()):
            durations.add_metric(
                [job], hist.cumulative(stats.DURATION_BUCKETS_S), sum_value=hist.sum_s
            )
        yield durations
        pickup = HistogramMetricFamily(
            "jobsvc_pickup_latency_seconds", "From enqueue to the start of the first try."
        )
        pickup.add_metric([], snap.pickup.cumulative(stats.PICKUP_BUCKETS_S), snap.pickup.sum_s)
        yield pickup

    def _webhook_metrics(self) -> Iterator[Metric]:
        hooks = self.reading.deliveries
        if hooks is None:
            return
        attempts = CounterMetricFamily(
            "jobsvc_webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, failed, refused).",
            labels=["outcome"],
        )
        for outcome, count in hooks.outcomes.items():
            attempts.add_metric([outcome], count)
        yield attempts
        durations = HistogramMetricFamily(
            "jobsvc_webhook_duration_seconds", "Duration of each webhook delivery attempt."
        )
        durations.add_metric([], hooks.duration_buckets, hooks.duration_sum_s)
        yield durations

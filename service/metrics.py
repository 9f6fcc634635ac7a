"""Prometheus metrics, computed from Redis at scrape time (right with any number of workers).

The web process keeps no counters of its own: it reads the queue, the workers' heartbeats and
the stats hash the workers add to (`jobs/reading/stats.py`), and a custom collector turns that
reading into metric families.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from jobs.declare.registry import JobSpec
from jobs.flow import gate_state
from jobs.layout.connection import RedisClient
from jobs.reading import stats
from jobs.settings import Settings
from jobs.webhooks.attempts import DeliveryStats, delivery_stats
from jobs.worker import heartbeat
from service.routes.queues import queue_stats
from service.schemas import QueueStats

STATES = ("queued", "held", "deferred", "in_progress", "failed")


@dataclass
class Reading:
    """Everything a scrape reports, read from Redis in a few round trips."""

    queues: list[QueueStats]
    workers: dict[str, float]
    """Live worker id -> seconds since its heartbeat."""
    details: list[dict[str, Any]]
    stats: stats.Snapshot
    now_ms: int
    deliveries: DeliveryStats | None = None
    gates: list[gate_state.QueueGates] = field(default_factory=list)
    limits: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Job name -> (its queue, its declared concurrency) for the jobs with one."""

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
    deliveries = await delivery_stats(redis)
    flows = {name: spec.flow for name, spec in catalog.items()}
    gated = {spec.queue for spec in catalog.values() if spec.flow.gated}
    gates = await gate_state.read_gates(redis, sorted(gated | {q.name for q in queues}), flows)
    limits = {
        name: (spec.queue, spec.flow.concurrency)
        for name, spec in catalog.items()
        if spec.flow.concurrency is not None
    }
    now_ms = int(time.time() * 1000)
    return Reading(queues, workers, details, snapshot, now_ms, deliveries, gates, limits)


class ReadingCollector(Collector):
    """Metric families from one `Reading`."""

    def __init__(self, reading: Reading) -> None:
        self.reading = reading

    def collect(self) -> Iterator[Metric]:
        yield from self._queue_metrics()
        yield from self._worker_metrics()
        yield from self._job_metrics()
        yield from self._webhook_metrics()
        yield from self._flow_metrics()

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
        fair = GaugeMetricFamily(
            "jobsvc_queue_fair_keys",
            "Fair keys with ready jobs, served in turn (one series per queue, none per key).",
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
            fair.add_metric([q.name], q.fair_keys)
            running.add_metric([q.name], self.reading.oldest_running_s(q.name))
        yield from (depth, oldest, paused, fair, running)

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
        yield CounterMetricFamily(
            "jobsvc_worker_loop_stalls",
            "Times a worker's event loop was blocked (by a job that blocks in an async def).",
            self.reading.stats.loop_stalls,
        )
        yield CounterMetricFamily(
            "jobsvc_worker_loop_stalled_seconds",
            "Seconds the workers' event loops were blocked, in all.",
            self.reading.stats.loop_stalled_s,
        )

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
        lateness = HistogramMetricFamily(
            "jobsvc_job_lateness_seconds",
            "How late tries start: start minus due (enqueue, deferred time or retry time), "
            "by queue. The signal to scale workers on.",
            labels=["queue"],
        )
        for queue, hist in sorted(snap.lateness.items()):
            lateness.add_metric(
                [queue], hist.cumulative(stats.LATENESS_BUCKETS_S), sum_value=hist.sum_s
            )
        yield lateness

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

    def _flow_metrics(self) -> Iterator[Metric]:
        """Flow control per job type, summed over its gates: a per-key limit
        (`concurrency_key`, `rate_key`) makes a gate per key value, which as a label would
        make the series count grow with the data (one per customer)."""
        held = GaugeMetricFamily(
            "jobsvc_flow_held_jobs",
            "Jobs held back by a limit (status queued), per job type and kind of limit "
            "(concurrency, rate_limit), summed over its keys.",
            labels=["queue", "job", "kind"],
        )
        in_use = GaugeMetricFamily(
            "jobsvc_flow_slots_in_use",
            "Concurrency slots in use (running or reserved for a released job), per job type, "
            "summed over its keys.",
            labels=["queue", "job"],
        )
        limit = GaugeMetricFamily(
            "jobsvc_flow_slot_limit",
            "Declared concurrency limit of a job type (per key value if it has a key).",
            labels=["queue", "job"],
        )
        active = GaugeMetricFamily(
            "jobsvc_flow_gates",
            "Gates (one per key value) that have jobs running or held, per job type and kind.",
            labels=["queue", "job", "kind"],
        )
        wait = GaugeMetricFamily(
            "jobsvc_flow_next_admission_seconds",
            "Seconds until a rate-limited job type's next admission (its soonest key; 0: now).",
            labels=["queue", "job"],
        )
        totals: dict[tuple[str, str, str], list[int]] = {}
        slots: dict[tuple[str, str], int] = {
            (queue, job): 0 for job, (queue, _) in self.reading.limits.items()
        }
        soonest: dict[tuple[str, str], float] = {}
        for queue_gates in self.reading.gates:
            for g in queue_gates.gates:
                total = totals.setdefault((g.queue, g.job, g.kind), [0, 0])
                total[0] += g.held
                total[1] += 1
                if g.running is not None:
                    slots[(g.queue, g.job)] = slots.get((g.queue, g.job), 0) + g.running
                if g.next_admission_ms is not None:
                    seconds = max(g.next_admission_ms - queue_gates.now_ms, 0) / 1000
                    soonest[(g.queue, g.job)] = min(soonest.get((g.queue, g.job), seconds), seconds)
        for (queue, job, kind), (count, gates) in sorted(totals.items()):
            held.add_metric([queue, job, kind], count)
            active.add_metric([queue, job, kind], gates)
        for (queue, job), count in sorted(slots.items()):
            in_use.add_metric([queue, job], count)
        for job, (queue, n) in sorted(self.reading.limits.items()):
            limit.add_metric([queue, job], n)
        for (queue, job), seconds in sorted(soonest.items()):
            wait.add_metric([queue, job], seconds)
        yield from (held, in_use, limit, active, wait)

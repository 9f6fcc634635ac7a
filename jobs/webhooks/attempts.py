"""The record of every webhook delivery attempt (per job, for `GET /jobs/{id}/deliveries`)
and the counts of their outcomes across workers (for `/metrics`).
"""

import math
from datetime import UTC, datetime
from typing import Literal

from pydantic import ValidationError

from jobs.declare.models import Model
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.stats import le_label

MAX_RECORDS = 200
"""Attempts kept per job (all its callback URLs together), newest kept."""

Outcome = Literal["delivered", "failed", "refused"]
OUTCOMES: tuple[Outcome, ...] = ("delivered", "failed", "refused")
DURATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, math.inf)


class DeliveryAttempt(Model):
    """One attempt to deliver a job's webhook (`GET /jobs/{id}/deliveries`)."""

    event_id: str
    """The `X-Webhook-Id` sent (the same on every attempt of one delivery)."""
    attempt: int
    """1 for the first attempt of this delivery."""
    at: datetime
    """When the attempt started (the Redis server's clock, read before the request)."""
    url: str
    """The callback URL, its query redacted (`?<redacted>`: it often holds a token)."""
    outcome: Outcome
    """`delivered` (2xx), `failed` (another status, or a network error: retried until the
    last attempt) or `refused` (the address is not allowed: never retried)."""
    status_code: int | None = None
    """The receiver's HTTP status, if it answered."""
    error: str | None = None
    duration_ms: float
    """From the start of name resolution to the response's headers (or the error)."""

    def dump(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def load(cls, raw: bytes) -> "DeliveryAttempt | None":
        """None for a value this code did not write."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            return None


async def server_time(redis: RedisClient) -> datetime:
    """The Redis server's clock: attempt times agree with the job's own times (which the
    scripts take from `TIME`), whatever the worker's clock says."""
    seconds, micros = await redis.time()
    return datetime.fromtimestamp(int(seconds) + int(micros) / 1e6, tz=UTC)


async def record_attempt(redis: RedisClient, job_id: str, attempt: DeliveryAttempt) -> None:
    """Append `attempt` to the job's list (capped) and count it for `/metrics`.

    The list expires with the job's result (its remaining TTL at this moment): attempts stay
    readable exactly as long as the job is. Not atomic with anything else: the list and the
    counters are observations, and a lost one loses no delivery."""
    q = keys.of_job(job_id)
    ttl_ms = await redis.pttl(q.result(job_id))
    key = q.deliveries(job_id)
    seconds = attempt.duration_ms / 1000
    bucket = le_label(next(b for b in DURATION_BUCKETS_S if seconds <= b))
    async with redis.pipeline(transaction=False) as pipe:
        pipe.rpush(key, attempt.dump())
        pipe.ltrim(key, -MAX_RECORDS, -1)
        if ttl_ms > 0:
            pipe.pexpire(key, ttl_ms)
        elif ttl_ms == -2:  # the record is gone already (or never was): keep this briefly
            pipe.pexpire(key, 60_000)
        pipe.hincrby(keys.WEBHOOK_STATS, f"outcome:{attempt.outcome}", 1)
        pipe.hincrby(keys.WEBHOOK_STATS, f"duration_bucket:{bucket}", 1)
        pipe.hincrby(keys.WEBHOOK_STATS, "duration_count", 1)
        pipe.hincrby(keys.WEBHOOK_STATS, "duration_sum_us", int(attempt.duration_ms * 1000))
        await pipe.execute()


async def load_deliveries(redis: RedisClient, job_id: str) -> list[DeliveryAttempt]:
    """The job's delivery attempts, oldest first (entries not written by this code skipped)."""
    raw: list[bytes] = await redis.lrange(keys.of_job(job_id).deliveries(job_id), 0, -1)  # type: ignore[misc]
    return [a for a in map(DeliveryAttempt.load, raw) if a is not None]


class DeliveryStats(Model):
    """All workers' webhook counts since the data began."""

    outcomes: dict[str, int]
    """outcome -> attempts."""
    duration_buckets: list[tuple[str, int]]
    """Cumulative (`le` label, attempts), for a Prometheus histogram."""
    duration_count: int
    duration_sum_s: float


async def delivery_stats(redis: RedisClient) -> DeliveryStats:
    raw: dict[bytes, bytes] = await redis.hgetall(keys.WEBHOOK_STATS)  # type: ignore[misc]
    fields = {k.decode(): int(v) for k, v in raw.items()}
    total, buckets = 0, []
    for bound in DURATION_BUCKETS_S:
        total += fields.get(f"duration_bucket:{le_label(bound)}", 0)
        buckets.append((le_label(bound), total))
    return DeliveryStats(
        outcomes={o: fields.get(f"outcome:{o}", 0) for o in OUTCOMES},
        duration_buckets=buckets,
        duration_count=fields.get("duration_count", 0),
        duration_sum_s=fields.get("duration_sum_us", 0) / 1e6,
    )

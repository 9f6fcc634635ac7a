"""Job statistics the workers publish for `/metrics`: outcomes, durations, pickup latency.

Each worker counts in memory (no I/O per job) and adds its counts to one Redis hash with one
`HINCRBY` pipeline per flush (about once a second), so the web process can read totals that are
right with any number of workers. Histograms are stored as per-bucket counts (not cumulative);
readers accumulate them.

Hash fields: `outcome:{job}:{complete|failed|aborted|retried}`, `duration_bucket:{job}:{le}`,
`duration_count:{job}`, `duration_sum_ms:{job}`, `pickup_bucket:{le}`, `pickup_count`,
`pickup_sum_ms`, `lateness_bucket:{queue}:{le}`, `lateness_count:{queue}`,
`lateness_sum_ms:{queue}`, and `loop_stalls`, `loop_stalled_ms` (the workers' blocked event loops:
`jobs.worker.watchdog`).
"""

import math
import time
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from jobs.layout.connection import RedisClient
from jobs.layout.keys import MINUTE, STATS

OUTCOMES = ("complete", "failed", "aborted", "retried")
DURATION_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf)
PICKUP_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, math.inf)
LATENESS_BUCKETS_S = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    *(30.0, 60.0, 300.0, 900.0, 3600.0, math.inf),
)
"""Up to an hour: a backlog an autoscaler should act on shows in the upper buckets."""


HISTORY_KEEP_MS = 2 * 3600 * 1000
"""Per-minute counts are kept two hours (the dashboard shows the last one)."""


def minute_key(minute_ms: int) -> str:
    return f"{MINUTE}{minute_ms}"


async def history(redis: RedisClient, minutes: int = 60) -> list[tuple[int, dict[str, int]]]:
    """(minute ms, outcome -> tries) for the last `minutes` minutes, oldest first, all workers."""
    now = _ms() // 60_000 * 60_000
    starts = [now - 60_000 * n for n in range(minutes - 1, -1, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for minute in starts:
            pipe.hgetall(minute_key(minute))
        replies = await pipe.execute()
    return [
        (minute, {k.decode(): int(v) for k, v in reply.items()})
        for minute, reply in zip(starts, replies, strict=True)
    ]


def le_label(bound: float) -> str:
    """Prometheus' spelling of a bucket bound: `0.25`, `1.0`, `+Inf`."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _bucket(value_s: float, bounds: tuple[float, ...]) -> int:
    """The index of the first bound `value_s` is within (the last bound is +Inf)."""
    return bisect_left(bounds, value_s)


_PICKUP_KEYS = tuple(f"pickup_bucket:{le_label(b)}" for b in PICKUP_BUCKETS_S)


def _ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class _JobKeys:
    """The hash fields one job's tries count into, spelled once per job and outcome (they
    were formatted anew for every try: a few µs of a no-op job's cost)."""

    outcome: str
    buckets: tuple[str, ...]
    count: str
    sum_ms: str

    @classmethod
    def of(cls, job: str, outcome: str) -> "_JobKeys":
        return cls(
            f"outcome:{job}:{outcome}",
            tuple(f"duration_bucket:{job}:{le_label(b)}" for b in DURATION_BUCKETS_S),
            f"duration_count:{job}",
            f"duration_sum_ms:{job}",
        )


@dataclass(frozen=True, slots=True)
class _LatenessKeys:
    buckets: tuple[str, ...]
    count: str
    sum_ms: str

    @classmethod
    def of(cls, queue: str) -> "_LatenessKeys":
        return cls(
            tuple(f"lateness_bucket:{queue}:{le_label(b)}" for b in LATENESS_BUCKETS_S),
            f"lateness_count:{queue}",
            f"lateness_sum_ms:{queue}",
        )


class JobStats:
    """A worker's counts since its last flush."""

    def __init__(self) -> None:
        self._pending: Counter[str] = Counter()
        self._minutes: Counter[tuple[int, str]] = Counter()
        """(minute ms, outcome) -> tries that ended then: the dashboard's last hour."""
        self._keys: dict[tuple[str, str], _JobKeys] = {}
        self._lateness_keys: dict[str, _LatenessKeys] = {}

    def outcome(self, job: str, outcome: str, duration_ms: int) -> None:
        """A try ended (`complete`, `failed`, `aborted`, or `retried`) and its outcome was
        stored: count it and its time."""
        now = _ms()
        duration_ms = max(duration_ms, 0)
        keys = self._keys.get((job, outcome))
        if keys is None:
            keys = self._keys[(job, outcome)] = _JobKeys.of(job, outcome)
        pending = self._pending
        pending[keys.outcome] += 1
        pending[keys.buckets[_bucket(duration_ms / 1000, DURATION_BUCKETS_S)]] += 1
        pending[keys.count] += 1
        pending[keys.sum_ms] += duration_ms
        self._minutes[(now // 60_000 * 60_000, outcome)] += 1

    def picked_up(self, tries: int, enqueued_ms: int | None, started_ms: int) -> None:
        """A first try started: enqueue-to-start latency (retries are not pickups)."""
        if tries != 1 or not enqueued_ms:
            return
        latency_ms = max(started_ms - int(enqueued_ms), 0)
        pending = self._pending
        pending[_PICKUP_KEYS[_bucket(latency_ms / 1000, PICKUP_BUCKETS_S)]] += 1
        pending["pickup_count"] += 1
        pending["pickup_sum_ms"] += latency_ms

    def started_late(self, queue: str, lateness_ms: int) -> None:
        """A try started `lateness_ms` after it came due (every try, retries included: how
        late work starts is what to scale workers on)."""
        keys = self._lateness_keys.get(queue)
        if keys is None:
            keys = self._lateness_keys[queue] = _LatenessKeys.of(queue)
        lateness_ms = max(lateness_ms, 0)
        pending = self._pending
        pending[keys.buckets[_bucket(lateness_ms / 1000, LATENESS_BUCKETS_S)]] += 1
        pending[keys.count] += 1
        pending[keys.sum_ms] += lateness_ms

    def loop_stalled(self, stalls: int, stalled_ms: int) -> None:
        """The worker's event loop was blocked `stalls` more times, `stalled_ms` in all."""
        if stalls:
            self._pending["loop_stalls"] += stalls
        if stalled_ms:
            self._pending["loop_stalled_ms"] += stalled_ms

    async def flush(self, redis: RedisClient) -> None:
        """Add the pending counts to the shared hash; on a Redis error keep them for next time."""
        if not self._pending:
            return
        pending, self._pending = self._pending, Counter()
        minutes, self._minutes = self._minutes, Counter()
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for name, amount in pending.items():
                    pipe.hincrby(STATS, name, amount)
                for (minute, outcome), amount in minutes.items():
                    pipe.hincrby(minute_key(minute), outcome, amount)
                    pipe.pexpire(minute_key(minute), HISTORY_KEEP_MS)
                await pipe.execute()
        except RedisError:
            self._pending.update(pending)
            self._minutes.update(minutes)
            raise


@dataclass
class Histogram:
    buckets: dict[str, int] = field(default_factory=dict)
    """Per-bucket (not cumulative) counts by `le` label."""
    count: int = 0
    sum_s: float = 0.0

    def cumulative(self, bounds: tuple[float, ...]) -> list[tuple[str, int]]:
        total, out = 0, []
        for bound in bounds:
            label = le_label(bound)
            total += self.buckets.get(label, 0)
            out.append((label, total))
        return out


@dataclass
class Snapshot:
    """All workers' totals, as read from Redis."""

    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    durations: dict[str, Histogram] = field(default_factory=dict)
    pickup: Histogram = field(default_factory=Histogram)
    lateness: dict[str, Histogram] = field(default_factory=dict)
    """queue -> how late its tries started."""
    loop_stalls: int = 0
    loop_stalled_s: float = 0.0


def parse(raw: dict[str, int]) -> Snapshot:
    snap = Snapshot()
    for name, value in raw.items():
        kind, _, rest = name.partition(":")
        if kind == "outcome":
            job, _, outcome = rest.rpartition(":")
            snap.outcomes[(job, outcome)] = value
        elif kind == "duration_bucket":
            job, _, le = rest.rpartition(":")
            snap.durations.setdefault(job, Histogram()).buckets[le] = value
        elif kind == "duration_count":
            snap.durations.setdefault(rest, Histogram()).count = value
        elif kind == "duration_sum_ms":
            snap.durations.setdefault(rest, Histogram()).sum_s = value / 1000
        elif kind == "pickup_bucket":
            snap.pickup.buckets[rest] = value
        elif kind == "pickup_count":
            snap.pickup.count = value
        elif kind == "pickup_sum_ms":
            snap.pickup.sum_s = value / 1000
        elif kind == "lateness_bucket":
            queue, _, le = rest.rpartition(":")
            snap.lateness.setdefault(queue, Histogram()).buckets[le] = value
        elif kind == "lateness_count":
            snap.lateness.setdefault(rest, Histogram()).count = value
        elif kind == "lateness_sum_ms":
            snap.lateness.setdefault(rest, Histogram()).sum_s = value / 1000
        elif kind == "loop_stalls":
            snap.loop_stalls = value
        elif kind == "loop_stalled_ms":
            snap.loop_stalled_s = value / 1000
    return snap


async def read(redis: RedisClient) -> Snapshot:
    raw: dict[bytes, bytes] = await redis.hgetall(STATS)  # type: ignore[misc]
    return parse({k.decode(): int(v) for k, v in raw.items()})

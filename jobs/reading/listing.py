"""Listing jobs across queues, newest first, in pages that never repeat or skip a job.

Each queue keeps its own listing index (and failed registry), scored `ms * 1000 + position`;
a page merges the queues' newest entries. The cursor is the last entry returned
(`score:id`), so the next page starts strictly after it whatever was enqueued meanwhile.
"""

import math
from dataclasses import dataclass

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_jobs

FAILED_STATUSES = (JobStatus.failed, JobStatus.aborted)


@dataclass(frozen=True, slots=True)
class Page:
    jobs: list[JobRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a listing (or a bulk action) takes; every field left out takes any."""

    statuses: frozenset[JobStatus] = frozenset()
    name: str | None = None
    since_ms: int | None = None
    """Enqueued at or after (server ms)."""
    until_ms: int | None = None
    """Enqueued before (server ms)."""

    @property
    def in_failed_registry(self) -> bool:
        """Only failed or aborted jobs: the failed registry holds them all, and only them."""
        return bool(self.statuses) and self.statuses <= set(FAILED_STATUSES)

    def matches(self, record: JobRecord) -> bool:
        if self.statuses and record.status not in self.statuses:
            return False
        if self.name is not None and record.name != self.name:
            return False
        if self.since_ms is None and self.until_ms is None:
            return True
        enqueued = record.enqueued_at
        if enqueued is None:
            return False
        ms = enqueued.timestamp() * 1000
        return (self.since_ms is None or ms >= self.since_ms) and (
            self.until_ms is None or ms < self.until_ms
        )

    def score_range(self) -> tuple[float, float]:
        """(lowest, highest) index score a match can have. Listing scores are the enqueue ms
        * 1000 + a position; failed-registry scores the failure's, never before the
        enqueue: so `since` bounds both, `until` only the listing."""
        low = -math.inf if self.since_ms is None else self.since_ms * 1000
        high = math.inf
        if self.until_ms is not None and not self.in_failed_registry:
            high = self.until_ms * 1000 - 1
        return low, high


def parse_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    score, _, job_id = cursor.partition(":")
    return float(score), job_id


async def list_jobs(
    redis: RedisClient,
    queues: list[str],
    max_tries: dict[str, int],
    *,
    where: JobFilter | None = None,
    limit: int = 50,
    cursor: str | None = None,
    legacy: bool = False,
    budget: int | None = None,
) -> Page:
    """Jobs of `queues` that match `where`, newest first. At most `budget` index entries are
    read per call (default: 20 per job asked, at least 1000): a page may come back short, with
    a cursor to go on from."""
    where = where or JobFilter()
    after = parse_cursor(cursor)
    found: list[JobRecord] = []
    budget = budget if budget is not None else max(limit * 20, 1000)
    chunk, scanned = min(max(limit, 100), budget), 0
    while len(found) < limit and scanned < budget:
        rows, more = await _newest(redis, queues, where, after, chunk)
        if not rows:
            return Page(found, None)
        records = await load_jobs(redis, [job_id for _, job_id in rows], max_tries, legacy=legacy)
        for (score, job_id), record in zip(rows, records, strict=True):
            scanned += 1
            after = (score, job_id)
            if record is not None and where.matches(record):
                found.append(record)
            if len(found) == limit or scanned == budget:
                break
        if not more and after == rows[-1]:
            return Page(found, None)  # every queue is exhausted
    return Page(found, f"{after[0]:.0f}:{after[1]}" if after else None)


PREFIX_SCAN_COUNT = 5000
"""Entries per ZSCAN step of an id-prefix search."""


async def find_by_id_prefix(
    redis: RedisClient,
    queues: list[str],
    prefix: str,
    max_tries: dict[str, int],
    *,
    where: JobFilter | None = None,
    limit: int = 50,
    legacy: bool = False,
) -> list[JobRecord]:
    """Jobs whose id starts with `prefix` (an id copied in part from a log line), newest first.
    Ids are random, so no index orders them: each queue's listing is scanned (ZSCAN, at most
    `LISTING_MAX_JOBS` entries per queue), in steps that leave the server to other clients."""
    where = where or JobFilter()
    ids: list[str] = []
    for name in queues:
        matching = redis.zscan_iter(
            keys.queue(name).index, match=_glob_literal(prefix) + "*", count=PREFIX_SCAN_COUNT
        )
        async for member, _ in matching:
            ids.append(member.decode())
    records = await load_jobs(redis, ids, max_tries, legacy=legacy)
    found = [r for r in records if r is not None and where.matches(r)]
    found.sort(key=lambda r: r.enqueued_at.timestamp() if r.enqueued_at else 0, reverse=True)
    return found[:limit]


def _glob_literal(text: str) -> str:
    """`text` matched as itself by a Redis glob pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


async def _newest(
    redis: RedisClient,
    queues: list[str],
    where: JobFilter,
    after: tuple[float, str] | None,
    chunk: int,
) -> tuple[list[tuple[float, str]], bool]:
    """Up to `chunk` entries across the queues, newest first, strictly after `after`; and
    whether any queue may hold more."""
    low, high = where.score_range()
    top = high if after is None else min(after[0], high)
    async with redis.pipeline(transaction=False) as pipe:
        for name in queues:
            q = keys.queue(name)
            index = q.failed if where.in_failed_registry else q.index
            pipe.zrevrangebyscore(
                index, _bound(top), _bound(low), start=0, num=chunk, withscores=True
            )
        replies = await pipe.execute()
    rows = [(score, member.decode()) for reply in replies for member, score in reply]
    rows.sort(reverse=True)
    if after is not None:
        rows = [row for row in rows if row < after]
    more = len(rows) > chunk or any(len(reply) == chunk for reply in replies)
    return rows[:chunk], more


def _bound(score: float) -> float | str:
    """A score as ZRANGEBYSCORE spells an unbounded end."""
    if math.isinf(score):
        return "+inf" if score > 0 else "-inf"
    return score

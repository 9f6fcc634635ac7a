"""Listing jobs across queues, newest first, in pages that never repeat or skip a job.

Each queue keeps its own listing index (and failed registry), scored `ms * 1000 + position`;
a page merges the queues' newest entries. The cursor is the last entry returned
(`score:id`), so the next page starts strictly after it whatever was enqueued meanwhile.
"""

from dataclasses import dataclass

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_jobs

FAILED_STATUSES = (JobStatus.failed, JobStatus.aborted)


@dataclass(frozen=True, slots=True)
class Page:
    jobs: list[JobRecord]
    next_cursor: str | None


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
    status: JobStatus | None = None,
    name: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    legacy: bool = False,
) -> Page:
    """Jobs of `queues`, newest first, optionally filtered by status and job name."""
    after = parse_cursor(cursor)
    found: list[JobRecord] = []
    chunk, budget, scanned = max(limit, 100), max(limit * 20, 1000), 0
    while len(found) < limit and scanned < budget:
        rows, more = await _newest(redis, queues, status, after, chunk)
        if not rows:
            return Page(found, None)
        records = await load_jobs(redis, [job_id for _, job_id in rows], max_tries, legacy=legacy)
        for (score, job_id), record in zip(rows, records, strict=True):
            scanned += 1
            after = (score, job_id)
            if record is None or (status is not None and record.status is not status):
                continue
            if name is not None and record.name != name:
                continue
            found.append(record)
            if len(found) == limit:
                break
        if not more and after == rows[-1]:
            return Page(found, None)  # every queue is exhausted
    return Page(found, f"{after[0]:.0f}:{after[1]}" if after else None)


async def _newest(
    redis: RedisClient,
    queues: list[str],
    status: JobStatus | None,
    after: tuple[float, str] | None,
    chunk: int,
) -> tuple[list[tuple[float, str]], bool]:
    """Up to `chunk` entries across the queues, newest first, strictly after `after`; and
    whether any queue may hold more."""
    top = "+inf" if after is None else after[0]
    async with redis.pipeline(transaction=False) as pipe:
        for name in queues:
            q = keys.queue(name)
            index = q.failed if status in FAILED_STATUSES else q.index
            pipe.zrevrangebyscore(index, top, "-inf", start=0, num=chunk, withscores=True)
        replies = await pipe.execute()
    rows = [(score, member.decode()) for reply in replies for member, score in reply]
    rows.sort(reverse=True)
    if after is not None:
        rows = [row for row in rows if row < after]
    more = len(rows) > chunk or any(len(reply) == chunk for reply in replies)
    return rows[:chunk], more

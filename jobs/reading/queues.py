"""Queues as operators see them: which exist, how full they are, pause and resume.

A queue exists for `/queues` when it holds jobs or a live worker serves it. Names come from
the declared queues (`jobs.declare.queues`), the registry producers add to (`jobsvc:queues`,
read up to `MAX_REGISTERED` names) and the live workers' heartbeats; each queue's figures are
read from its own keys (its own cluster slot). Pause and resume take a known queue only
(`is_known`): a name a request makes up writes nothing.
"""

import time
from collections.abc import Iterable
from typing import Any

from jobs.declare.models import Model
from jobs.flow import fair_shares, gate_state
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.worker import heartbeat
from jobs.worker.queue_order import EVERY, registered_queues

WAKE_TOKENS = 16
"""Most tokens a wake list keeps (as `enqueue.lua` and `deps.lua` trim it): one wakes a worker,
which claims a batch; more would only pile up."""


class QueueFigures(Model):
    """One queue as `/queues` shows it."""

    name: str
    queued: int
    """Ready to run now (any priority)."""
    held: int
    """Due but held back by a concurrency or rate limit (`jobs.flow`): status `queued` with
    `waiting_for` set, not counted in `queued`."""
    deferred: int
    """Due later: deferred jobs and retries waiting for their next try."""
    in_progress: int
    failed: int
    paused: bool
    oldest_waiting_s: float | None
    """How long the longest-waiting ready job (any priority) has been due."""
    workers: int
    """Live workers serving this queue."""
    unknown_jobs: int
    """Jobs put back by a worker that does not know them, waiting for a worker that does
    (during a rolling deploy: jobs only the new release declares; `UNKNOWN_JOB_GRACE_S` after
    their enqueue they fail `UnknownJob`). Also counted in `deferred` or `queued`."""
    unknown_job_names: list[str]
    """The names of those jobs, sorted."""
    fair_keys: int = 0
    """Fair keys (`@job(fair_key=...)`) with ready jobs, over all priorities: they are served
    in turn (a level's plain jobs, while they take turns with fair ones, count as one)."""


async def queue_names(
    redis: RedisClient, declared: Iterable[str], workers: list[dict[str, Any]]
) -> list[str]:
    names = await registered_queues(redis)
    names.update(declared)
    for info in workers:
        names.update(q for q in info.get("queues", []) if isinstance(q, str))
    return sorted(n for n in names if keys.QUEUE_NAME.fullmatch(n))


def serves(worker: dict[str, Any], queue: str) -> bool:
    """Whether a worker's heartbeat says it serves `queue` (`*`: every queue)."""
    queues = worker.get("queues", [])
    return queue in queues or EVERY in queues


async def served_queues(redis: RedisClient) -> tuple[set[str], bool]:
    """The queues live workers serve, and whether one serves every queue (`*`)."""
    workers = await heartbeat.worker_details(redis, list(await heartbeat.live_workers(redis)))
    names = {q for w in workers for q in w.get("queues", []) if isinstance(q, str)}
    return names - {EVERY}, EVERY in names


async def unserved_with_jobs(redis: RedisClient, declared: Iterable[str]) -> list[str]:
    """Queues that hold jobs to run (queued, held or deferred) and no live worker serves:
    they stay there until a worker with that queue in `WORKER_QUEUES` (or `*`) starts."""
    workers = await heartbeat.worker_details(redis, list(await heartbeat.live_workers(redis)))
    names = await queue_names(redis, declared, workers)
    figures = await queue_figures(redis, names, workers)
    return [f.name for f in figures if not f.workers and (f.queued or f.held or f.deferred)]


async def queue_figures(
    redis: RedisClient, names: list[str], workers: list[dict[str, Any]]
) -> list[QueueFigures]:
    """Figures of each named queue that holds jobs, is paused or has a live worker."""
    now_ms = int(time.time() * 1000)
    levels = await _levels(redis, names)
    ready = await _ready_levels(redis, names, levels)
    fair = await fair_shares.fair_backlog(redis, names, levels)
    held = await gate_state.held_jobs(redis, names)
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            q = keys.queue(name)
            # A score is a due ms plus its place within that ms: below now + 1 is due.
            pipe.zcount(q.due, "-inf", f"({now_ms + 1}")
            pipe.zcount(q.due, now_ms + 1, "+inf")
            pipe.zrangebyscore(q.due, "-inf", f"({now_ms + 1}", start=0, num=1, withscores=True)
            pipe.zcard(q.failed)
            pipe.exists(q.paused)
            pipe.hvals(q.unknown)
        replies = await pipe.execute()
    out = []
    for i, name in enumerate(names):
        due_now, later, oldest, failed, paused, unknown = replies[i * 6 : i * 6 + 6]
        serving = [w for w in workers if serves(w, name)]
        running = sum(int(w.get("running_by_queue", {}).get(name, 0)) for w in serving)
        figures = QueueFigures(
            name=name,
            queued=due_now + ready[name][0] + fair[name].jobs,
            held=held[name],
            # Running jobs sit in the due set scored by their lease's end: count them apart.
            deferred=max(later - running, 0),
            in_progress=running,
            failed=failed,
            paused=bool(paused),
            oldest_waiting_s=_age_s(
                now_ms, oldest[0][1] if oldest else None, ready[name][1], fair[name].oldest_due
            ),
            workers=len(serving),
            unknown_jobs=len(unknown),
            unknown_job_names=sorted({n.decode(errors="replace") for n in unknown}),
            fair_keys=fair[name].keys,
        )
        if figures.queued or figures.held or later or failed or paused or serving:
            out.append(figures)
    return out


async def _levels(redis: RedisClient, names: list[str]) -> dict[str, list[int]]:
    """Per queue: the priorities that have ready jobs outside the due set."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.zrange(keys.queue(name).levels, 0, -1)
        replies = await pipe.execute()
    return {name: [int(x) for x in r] for name, r in zip(names, replies, strict=True)}


async def _ready_levels(
    redis: RedisClient, names: list[str], by_name: dict[str, list[int]]
) -> dict[str, tuple[int, float | None]]:
    """Per queue: the ready jobs of priorities above 0 (one sorted set per level, scored by
    due time; and those of priority 0 while fair ones wait), and the earliest due time among
    them."""
    levels = [by_name[name] for name in names]
    async with redis.pipeline(transaction=False) as pipe:
        for name, queue_levels in zip(names, levels, strict=True):
            for level in queue_levels:
                ready = keys.queue(name).ready(int(level))
                pipe.zcard(ready)
                pipe.zrange(ready, 0, 0, withscores=True)
        replies = iter(await pipe.execute())
    out: dict[str, tuple[int, float | None]] = {}
    for name, queue_levels in zip(names, levels, strict=True):
        count, oldest = 0, None
        for _ in queue_levels:
            count += next(replies)
            first = next(replies)
            if first and (oldest is None or first[0][1] < oldest):
                oldest = first[0][1]
        out[name] = (count, oldest)
    return out


async def all_queue_figures(redis: RedisClient, declared: Iterable[str]) -> list[QueueFigures]:
    workers = await heartbeat.worker_details(redis, list(await heartbeat.live_workers(redis)))
    return await queue_figures(redis, await queue_names(redis, declared, workers), workers)


async def is_known(redis: RedisClient, name: str, declared: Iterable[str]) -> bool:
    """Declared here, or named in the registry (a queue another release declares)."""
    if name in declared:
        return True
    return bool(await redis.sismember(keys.QUEUES, name))  # type: ignore[misc]


async def pause(redis: RedisClient, name: str) -> None:
    """Jobs keep being accepted; none starts until `resume`."""
    q = keys.queue(name)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(q.paused, "1")
        pipe.sadd(keys.QUEUES, name)
        await pipe.execute()


async def resume(redis: RedisClient, name: str) -> None:
    q = keys.queue(name)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.delete(q.paused)
        pipe.lpush(q.wake, "1")  # idle workers look again now, not at their next poll
        pipe.ltrim(q.wake, 0, WAKE_TOKENS - 1)  # resumed again and again: still a few tokens
        await pipe.execute()


def _age_s(now_ms: int, *due_times: float | None) -> float | None:
    known = [d for d in due_times if d is not None]
    return max((now_ms - min(known)) / 1000, 0.0) if known else None

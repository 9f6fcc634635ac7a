"""Concurrent single enqueues on one client share script calls (`jobs.enqueue.group_commit`): each
caller still gets its own outcome, and a failed call reaches every caller it carried."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.enqueue.submit import Enqueued, enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_jobs
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import RunWorker, new_queue, starts

Call = Callable[[], Awaitable[Enqueued]]


async def script_calls(redis: RedisClient) -> int:
    stats = await redis.info("commandstats")
    return sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("evalsha", "eval"))


async def reset_stats(redis: RedisClient, settings: Settings) -> None:
    await enqueue(redis, "record_start", {"label": "warm-up"}, settings=settings)  # script cached
    await redis.config_resetstat()


async def test_concurrent_enqueues_share_calls_keep_order_and_each_gets_its_own_job(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    name = new_queue()
    labels = [f"m{n}" for n in range(300)]
    await reset_stats(redis, settings)
    out = await asyncio.gather(
        *(
            enqueue(redis, "record_start", {"label": label}, queue=name, settings=settings)
            for label in labels
        )
    )
    calls = await script_calls(redis)
    assert 2 <= calls <= len(labels) // 2  # the first alone, then batches
    assert [e.payload["label"] for e in out] == labels
    assert all(e.outcome == "created" and e.queue == name for e in out)
    ids = [e.job_id for e in out]
    assert len(set(ids)) == len(ids)
    records = await load_jobs(redis, ids, {"record_start": 3})
    assert [(r.status, r.input["label"]) if r else None for r in records] == [
        (JobStatus.queued, label) for label in labels
    ]
    # One at a time, the worker starts them in the order of the calls (FIFO across batches).
    await run_worker(worker_queues=name, worker_concurrency=1, claim_batch=1)
    assert await starts(redis) == labels


async def test_producers_in_parallel_share_calls_and_trim_the_listing_as_single_calls_do(
    redis: RedisClient, settings: Settings
) -> None:
    name = new_queue()
    producers, each = 16, 40

    async def producer(p: int) -> list[Enqueued]:
        return [
            await enqueue(
                redis, "record_start", {"label": f"{p}-{n}"}, queue=name, settings=settings
            )
            for n in range(each)
        ]

    await reset_stats(redis, settings)
    out = [e for batch in await asyncio.gather(*map(producer, range(producers))) for e in batch]
    stats = await redis.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] < producers * each / 2
    # Trimmed as often as single calls would: at the first (a new queue), then once per 64
    # rows at most (a bulk call of many rows trims every time: these are not one).
    assert stats["cmdstat_zremrangebyscore"]["calls"] <= 1 + (producers * each - 1) // 64
    assert len({e.job_id for e in out}) == producers * each
    assert await redis.zcard(keys.queue(name).index) == producers * each


def mixed_calls(redis: RedisClient, settings: Settings, name: str) -> list[Call]:
    """A plain leader, then rows whose outcomes depend on rows before them in the same
    batch: unique (by customer), a caller's own id twice, debounce; all on the default queue
    (where the limited jobs are pinned): one lane."""

    def call(job: str, payload: dict[str, Any], **options: Any) -> Call:
        return lambda: enqueue(redis, job, payload, settings=settings, **options)

    hold = {"label": "x"}
    return [
        call("record_start", {"label": "leader"}),
        call("unique_by_customer", {**hold, "customer": "a"}),
        call("record_start", {"label": "own-1"}, job_id=f"own-{name}"),
        call("unique_by_customer", {**hold, "customer": "a"}),
        call("debounced", {**hold, "customer": "d", "label": "first"}),
        call("record_start", {"label": "own-2"}, job_id=f"own-{name}"),
        call("unique_by_customer", {**hold, "customer": "b"}),
        call("debounced", {**hold, "customer": "d", "label": "second"}),
        call("record_start", {"label": "plain"}, priority=3),
    ]


def shape(out: list[Enqueued]) -> list[tuple[str, int | None]]:
    """Each outcome, and which earlier caller's job it names (None: its own new one)."""
    firsts = {e.job_id: i for i, e in reversed(list(enumerate(out)))}
    return [
        (e.outcome, None if firsts[e.job_id] == i else firsts[e.job_id]) for i, e in enumerate(out)
    ]


async def test_each_caller_gets_its_own_outcome_from_a_shared_call_as_in_sequence(
    redis: RedisClient, settings: Settings
) -> None:
    await reset_stats(redis, settings)
    name = new_queue()
    together = await asyncio.gather(*(c() for c in mixed_calls(redis, settings, name)))
    assert await script_calls(redis) == 2  # the leader alone, then every other row at once

    await redis.flushdb()
    name = new_queue()
    one_by_one = [await c() for c in mixed_calls(redis, settings, name)]

    expected = [
        ("created", None),
        ("created", None),
        ("created", None),
        ("unique", 1),
        ("created", None),
        ("duplicate", 2),
        ("created", None),
        ("debounced", 4),
        ("created", None),
    ]
    assert shape(together) == shape(one_by_one) == expected
    debounced = (await load_jobs(redis, [one_by_one[4].job_id], {"debounced": 1}))[0]
    assert debounced is not None and debounced.input["label"] == "second"
    assert together[-1].priority == 3 and together[-1].payload == {"label": "plain"}


async def blocked_clients(redis: RedisClient) -> int:
    return int((await redis.info("clients"))["blocked_clients"])


@pytest.fixture
async def admin(settings: Settings) -> Any:
    """A connection of its own to pause the server's writes and cut the others' connections."""
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url)
    yield client
    await client.execute_command("CLIENT", "UNPAUSE")
    await client.aclose()


async def test_a_connection_failure_reaches_every_caller_of_the_batch_and_nothing_doubles(
    redis: RedisClient, settings: Settings, admin: Any
) -> None:
    name = new_queue()
    await enqueue(redis, "record_start", {"label": "warm-up"}, queue=name, settings=settings)
    q = keys.queue(name)
    before = await redis.zcard(q.index)
    # Writes wait at the server (the script never runs) until the connection is cut.
    await admin.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
    labels = [f"m{n}" for n in range(20)]
    calls = [
        asyncio.create_task(
            enqueue(
                redis,
                "record_start",
                {"label": label},
                queue=name,
                job_id=f"{label}-{name}",
                settings=settings,
            )
        )
        for label in labels
    ]
    for _ in range(2):  # the first call alone, then the batch of the 19 others behind it
        await eventually(lambda: _blocked(admin))
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    await admin.execute_command("CLIENT", "UNPAUSE")
    assert await redis.zcard(q.index) == before  # none of them was written

    # Each caller tries again once: every job exists once (the same ids: no duplicate).
    again = await asyncio.gather(
        *(
            enqueue(
                redis,
                "record_start",
                {"label": label},
                queue=name,
                job_id=f"{label}-{name}",
                settings=settings,
            )
            for label in labels
        )
    )
    assert [(e.outcome, e.payload["label"]) for e in again] == [("created", lb) for lb in labels]
    assert await redis.zcard(q.index) == before + len(labels)


async def _blocked(admin: Any) -> bool:
    return await blocked_clients(admin) >= 1


async def test_a_caller_cancelled_before_its_batch_is_sent_leaves_no_job(
    redis: RedisClient, settings: Settings, admin: Any
) -> None:
    name = new_queue()
    await enqueue(redis, "record_start", {"label": "warm-up"}, queue=name, settings=settings)
    await admin.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
    calls = [
        asyncio.create_task(
            enqueue(redis, "record_start", {"label": f"m{n}"}, queue=name, settings=settings)
        )
        for n in range(4)
    ]
    await eventually(lambda: _blocked(admin))  # m0 in flight, m1..m3 wait behind it
    calls[2].cancel()
    await admin.execute_command("CLIENT", "UNPAUSE")
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    created = [e for e in done if isinstance(e, Enqueued)]
    assert [e.payload["label"] for e in created] == ["m0", "m1", "m3"]
    listed = await redis.zrange(keys.queue(name).index, 0, -1)
    assert len(listed) == 4  # the warm-up's and three

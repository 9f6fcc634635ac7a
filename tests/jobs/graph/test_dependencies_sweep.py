"""The sweep interval is a setting (DEPENDENCY_SWEEP_S): enqueue.lua schedules a waiting job's
first look by it, and a sweep schedules the next by it, both by the server's clock."""

from jobs.enqueue.submit import enqueue
from jobs.graph.dependencies import sweep
from jobs.layout import keys
from jobs.layout.connection import RedisClient, server_ms
from settings import Settings


async def test_the_first_and_next_looks_follow_the_setting(
    redis: RedisClient, settings: Settings
) -> None:
    s = settings.model_copy(update={"dependency_sweep_s": 3.5})
    parent = await enqueue(redis, "numbered", {"n": 1}, queue="nobody", settings=s)
    before = await server_ms(redis)
    child = await enqueue(redis, "gather", {}, after=[parent.job_id], settings=s)
    after = await server_ms(redis)
    waiting = keys.of_job(child.job_id).waiting
    first = await redis.zscore(waiting, child.job_id)
    assert first is not None and before + 3500 <= first <= after + 3500

    # Not due yet: a sweep leaves it alone.
    assert await sweep(redis, [keys.queue_of(child.job_id)], 3.5, wait_s=s.dependency_wait_s) == 0
    # Due: looked at (its parent is still live: it keeps waiting), next look 3.5 s later.
    await redis.zadd(waiting, {child.job_id: 0}, xx=True)
    looking = await server_ms(redis)
    assert await sweep(redis, [keys.queue_of(child.job_id)], 3.5, wait_s=s.dependency_wait_s) == 1
    again = await redis.zscore(waiting, child.job_id)
    assert again is not None and looking + 3500 <= again <= await server_ms(redis) + 3500


async def test_a_waiting_job_whose_definition_expired_is_forgotten(
    redis: RedisClient, settings: Settings
) -> None:
    parent = await enqueue(redis, "numbered", {"n": 1}, queue="nobody", settings=settings)
    child = await enqueue(redis, "gather", {}, after=[parent.job_id], priority=5, settings=settings)
    q = keys.of_job(child.job_id)
    assert await redis.hget(q.priorities, child.job_id) == b"5"  # type: ignore[misc]
    await redis.delete(q.job(child.job_id))  # as DEPENDENCY_WAIT_S running out would
    await redis.zadd(q.waiting, {child.job_id: 0}, xx=True)
    assert await sweep(redis, [q.name], 10, wait_s=settings.dependency_wait_s) == 0
    assert await redis.zscore(q.waiting, child.job_id) is None
    assert not await redis.exists(q.deps(child.job_id), q.state(child.job_id))
    assert await redis.hget(q.priorities, child.job_id) is None  # type: ignore[misc]

"""Dependencies bounded by construction (issue 23): every dependency key carries a TTL tied to
DEPENDENCY_WAIT_S, a released job's state lives as any job's does, one call creates at most
MAX_EDGES_PER_REQUEST edges (nothing written past it), and the queues with waiting jobs are
indexed for the sweep, which one worker per interval does for each queue."""

import pytest

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.graph import waiting_queues
from jobs.graph.edge_limit import TooManyEdges
from jobs.graph.workflow_commit import enqueue_workflow
from jobs.graph.workflows import Workflow, record_key
from jobs.layout import keys
from jobs.layout.connection import RedisClient, server_ms
from jobs.reading.job_record import JobStatus, load_job
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background

WAIT_S = 120


def bounded(settings: Settings, **update: object) -> Settings:
    return settings.model_copy(update={"dependency_wait_s": WAIT_S, **update})


async def ttl_ms(redis: RedisClient, key: str) -> int:
    return int(await redis.pttl(key))


async def assert_expires_within_wait(redis: RedisClient, *keys_: str) -> None:
    for key in keys_:
        ttl = await ttl_ms(redis, key)
        assert 0 < ttl <= WAIT_S * 1000, (key, ttl)


async def test_every_dependency_key_expires_with_the_wait_and_a_released_job_keeps_its_state(
    redis: RedisClient, settings: Settings
) -> None:
    s = bounded(settings)
    parent = await enqueue(redis, "numbered", {"n": 1}, queue="bound-p", settings=s)
    child = await enqueue(redis, "gather", {}, queue="bound-c", after=[parent.job_id], settings=s)
    p, c = keys.of_job(parent.job_id), keys.of_job(child.job_id)
    await assert_expires_within_wait(
        redis,
        c.job(child.job_id),
        c.deps(child.job_id),
        c.state(child.job_id),
        c.waiting,
        p.children(parent.job_id),
        p.parents,
    )
    # Released (its parent final), it is a live job like any other: its state has no TTL
    # until its settle deletes it; the result then expires as any result does.
    async with worker_in_background(s, redis, worker_queues="bound-p"):

        async def released() -> bool:
            found = await load_job(redis, child.job_id, {})
            return found is not None and found.status is JobStatus.queued

        await eventually(released)
    assert await ttl_ms(redis, c.state(child.job_id)) == -1
    assert not await redis.exists(c.deps(child.job_id), p.children(parent.job_id))
    async with worker_in_background(s, redis, worker_queues="bound-c"):

        async def complete() -> bool:
            found = await load_job(redis, child.job_id, {})
            return found is not None and found.status is JobStatus.complete

        await eventually(complete)
    assert not await redis.exists(c.state(child.job_id), c.job(child.job_id))
    assert 0 < await ttl_ms(redis, c.result(child.job_id)) <= s.result_ttl_s * 1000


async def test_a_workflows_keys_and_record_expire(redis: RedisClient, settings: Settings) -> None:
    s = bounded(settings)
    flow = Workflow()
    flow.add("a", "numbered", {"n": 1}, queue="bound-wf")
    flow.add("b", "gather", {}, after=["a"], queue="bound-wf2")
    created = await enqueue_workflow(redis, flow, s)
    a, b = created.jobs["a"], created.jobs["b"]
    await assert_expires_within_wait(
        redis, keys.of_job(b).deps(b), keys.of_job(b).state(b), keys.of_job(a).children(a)
    )
    record_ttl = await ttl_ms(redis, record_key(created.id))
    assert 0 < record_ttl <= (WAIT_S + max(s.result_ttl_s, s.failed_ttl_s)) * 1000
    indexed = await waiting_queues.indexed_queues(redis, await server_ms(redis))
    assert "bound-wf2" in indexed


async def test_past_the_edge_cap_nothing_is_written(redis: RedisClient, settings: Settings) -> None:
    s = bounded(settings, max_edges_per_request=50)
    parents = await enqueue_many(redis, "numbered", [{"n": n} for n in range(10)], settings=s)
    ids = [e.job_id for e in parents]
    before = await redis.dbsize()
    with pytest.raises(TooManyEdges) as refused:
        await enqueue_many(redis, "gather", [{}] * 6, after=ids, queue="bound-x", settings=s)
    assert (refused.value.edges, refused.value.limit) == (60, 50)
    flow = Workflow()
    for n in range(11):
        flow.add(f"n{n}", "gather", {}, after=[f"n{m}" for m in range(n)], queue="bound-x")
    with pytest.raises(TooManyEdges):  # 55 edges
        await enqueue_workflow(redis, flow, s)
    assert await redis.dbsize() == before
    # At the cap: written.
    fan_out = await enqueue_many(redis, "gather", [{}] * 5, after=ids, queue="bound-x", settings=s)
    assert all(e.waiting for e in fan_out)


async def test_one_worker_per_interval_sweeps_a_queue_and_the_index_forgets_old_queues(
    redis: RedisClient, settings: Settings
) -> None:
    first = await waiting_queues.take_turns(redis, ["q1", "q2"], "w1", 60_000)
    second = await waiting_queues.take_turns(redis, ["q1", "q2", "q3"], "w2", 60_000)
    assert first == ["q1", "q2"] and second == ["q3"]
    now = await server_ms(redis)
    await redis.zadd(keys.WAITING_QUEUES, {"gone": now - 1, "kept": now + 60_000})
    assert await waiting_queues.indexed_queues(redis, now) == ["kept"]
    assert await redis.zscore(keys.WAITING_QUEUES, "gone") is None

"""Fair shares within a queue and a priority (lua/includes/fair.lua): ready jobs of different
fair keys take turns, so a tenant's first job waits about one round, not another's backlog.

Start order is observable with one job at a time (`worker_concurrency=1, claim_batch=1`):
every try appends its label to a Redis list as it starts.
"""

from collections import Counter

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout import keys
from jobs.layout.connection import RedisClient, server_ms
from jobs.layout.keys import DEFAULT_QUEUE
from jobs.worker.claim import Claimer
from jobs.worker.queue_order import ServedQueues
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import RunWorker, starts

ONE_AT_A_TIME = {"worker_concurrency": 1, "claim_batch": 1}


async def _tenant(
    redis: RedisClient, settings: Settings, tenant: str, count: int, **options: object
) -> None:
    await enqueue_many(
        redis,
        "record_tenant",
        [{"label": f"{tenant}{n}", "tenant": tenant} for n in range(count)],
        settings=settings,
        **options,  # type: ignore[arg-type]
    )


async def _until_due(redis: RedisClient, due_ms: int) -> None:
    """Wait (on a condition, not a fixed sleep) until the server's clock passes `due_ms`."""

    async def due() -> bool:
        return await server_ms(redis) > due_ms

    await eventually(due)


async def test_a_new_tenant_waits_one_round_not_the_backlog(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    await _tenant(redis, settings, "A", 1000)
    await _tenant(redis, settings, "B", 10)
    await run_worker(**ONE_AT_A_TIME)
    order = await starts(redis)
    assert len(order) == 1010
    first = order[:21]
    assert [x for x in first if x.startswith("B")] == [f"B{n}" for n in range(10)]
    # Each tenant's own jobs keep their order.
    assert [x for x in order if x.startswith("A")] == [f"A{n}" for n in range(1000)]


async def test_weights_give_shares_in_proportion(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    from jobs.flow.fair_shares import set_weight

    await set_weight(redis, DEFAULT_QUEUE, "heavy", 3)
    await _tenant(redis, settings, "heavy", 200)
    await _tenant(redis, settings, "light", 200)
    await run_worker(**ONE_AT_A_TIME)
    first = Counter(label.rstrip("0123456789") for label in (await starts(redis))[:200])
    assert 145 <= first["heavy"] <= 155 and first["heavy"] + first["light"] == 200


async def test_priority_still_comes_first_and_plain_jobs_take_a_turn(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    await _tenant(redis, settings, "A", 5)
    await _tenant(redis, settings, "B", 5, priority=3)
    await enqueue(redis, "record_start", {"label": "urgent"}, priority=1, settings=settings)
    for n in range(3):
        await enqueue(redis, "record_start", {"label": f"plain{n}"}, settings=settings)
    await run_worker(**ONE_AT_A_TIME)
    order = await starts(redis)
    # Priority 0 (A's and the plain jobs, taking turns) before 1 before 3.
    assert sorted(order[:8]) == sorted([f"A{n}" for n in range(5)] + ["plain0", "plain1", "plain2"])
    assert order[:6].count("plain0") + order[:6].count("plain1") + order[:6].count("plain2") == 3
    assert order[8:] == ["urgent", *[f"B{n}" for n in range(5)]]


async def test_fair_key_given_per_enqueue(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    await enqueue_many(
        redis,
        "record_start",
        [{"label": f"x{n}"} for n in range(50)],
        fair_key="x",
        settings=settings,
    )
    await enqueue(redis, "record_start", {"label": "y0"}, fair_key="y", settings=settings)
    await run_worker(**ONE_AT_A_TIME)
    assert (await starts(redis)).index("y0") <= 2


async def test_a_deferred_and_a_retried_job_come_due_into_their_lane(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    await _tenant(redis, settings, "A", 100)
    deferred = await enqueue(
        redis,
        "record_tenant",
        {"label": "late", "tenant": "B", "retry_first_s": 0.05},
        defer_by=0.05,
        settings=settings,
    )
    await _until_due(redis, deferred.scheduled_ms + 60)
    await run_worker(**ONE_AT_A_TIME)
    order = await starts(redis)
    assert len(order) == 102
    # Due: it waits one turn, not A's backlog; its retry (due 50 ms later) comes back to its
    # lane and waits about one turn again.
    assert order.index("late") <= 2
    assert order.index("late", order.index("late") + 1) < 90


async def test_fair_shares_compose_with_a_concurrency_limit_per_tenant(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    for tenant, count in (("A", 30), ("B", 5)):
        await enqueue_many(
            redis,
            "record_tenant_limited",
            [{"label": f"{tenant}{n}", "tenant": tenant} for n in range(count)],
            settings=settings,
        )
    await run_worker(worker_concurrency=2, claim_batch=2)
    order = await starts(redis)
    assert [x for x in order if x.startswith("A")] == [f"A{n}" for n in range(30)]
    assert [x for x in order if x.startswith("B")] == [f"B{n}" for n in range(5)]
    assert max(order.index(f"B{n}") for n in range(5)) < 15


async def test_a_debounced_job_waiting_in_its_lane_leaves_it_when_debounced_again(
    redis: RedisClient, settings: Settings
) -> None:
    q = keys.queue(DEFAULT_QUEUE)
    a = await enqueue(redis, "record_tenant", {"label": "A0", "tenant": "A"}, settings=settings)
    first = await enqueue(
        redis, "debounced_tenant", {"label": "v1", "tenant": "T"}, settings=settings
    )
    await _until_due(redis, first.scheduled_ms + 1)
    # One claim of one job: A's (first in turn); the claim's scan moved T's due job to its lane.
    claimer = Claimer(redis, "w-test", ServedQueues.parse("", DEFAULT_QUEUE), 5000, legacy=False)
    claims = await claimer.claim(1)
    assert [c.job_id for c in claims.jobs] == [a.job_id]
    rank = await redis.zscore(q.lane(0, "T"), first.job_id)
    assert rank is not None and rank == int(rank)  # an integer rank (keys.LANE_EPOCH_MS)
    assert int(keys.lane_due(rank)) == first.scheduled_ms
    assert keys.lane_rank(keys.lane_due(rank)) == rank
    again = await enqueue(
        redis, "debounced_tenant", {"label": "v2", "tenant": "T"}, settings=settings
    )
    assert (again.outcome, again.job_id) == ("debounced", first.job_id)
    assert await redis.zscore(q.lane(0, "T"), first.job_id) is None
    assert (await redis.zscore(q.due, first.job_id) or 0) > first.scheduled_ms


async def test_fair_shares_compose_with_a_rate_limit(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    for tenant, count in (("A", 8), ("B", 3)):
        await enqueue_many(
            redis,
            "record_tenant_rated",
            [{"label": f"{tenant}{n}", "tenant": tenant} for n in range(count)],
            settings=settings,
        )
    await run_worker(worker_concurrency=4, claim_batch=4)
    order = await starts(redis)
    assert [x for x in order if x.startswith("A")] == [f"A{n}" for n in range(8)]
    assert [x for x in order if x.startswith("B")] == [f"B{n}" for n in range(3)]
    assert max(order.index(f"B{n}") for n in range(3)) < 7, order

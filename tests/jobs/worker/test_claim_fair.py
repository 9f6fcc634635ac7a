"""Fair shares within a queue and a priority (lua/includes/fair.lua): ready jobs of different
fair keys take turns, so a tenant's first job waits about one round, not another's backlog.

Start order is observable with one job at a time (`worker_concurrency=1, claim_batch=1`):
every try appends its label to a Redis list as it starts.
"""

from collections import Counter

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout.connection import RedisClient
from jobs.layout.keys import DEFAULT_QUEUE
from settings import Settings
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

"""`enqueue_many`: many jobs of one type, chunk after chunk, in input order, every one kept."""

from jobs import keys
from jobs.connection import RedisClient
from jobs.enqueue import BULK_CHUNK, enqueue_many
from jobs.store import JobStatus, load_jobs
from settings import Settings
from tests.conftest import RunWorker
from tests.helpers.workers import new_queue


async def test_enqueue_many_over_several_chunks_keeps_input_order_and_enqueues_all(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    count = 2 * BULK_CHUNK + 201  # three script calls
    name = new_queue()
    payloads = [{"message": f"m{n}"} for n in range(count)]
    out = await enqueue_many(redis, "ping", payloads, queue=name, priority=2, settings=settings)
    assert [e.payload["message"] for e in out] == [p["message"] for p in payloads]
    assert all(e.outcome == "created" and e.priority == 2 and e.queue == name for e in out)
    ids = [e.job_id for e in out]
    assert len(set(ids)) == count
    q = keys.queue(name)
    # The ready set ranks one priority by sequence: FIFO is exactly the input order.
    assert [m.decode() for m in await redis.zrange(q.ready, 0, -1)] == ids
    assert await redis.zcard(q.index) == count
    assert await redis.hlen(q.priorities) == count  # type: ignore[misc]

    await run_worker(worker_queues=name)
    records = await load_jobs(redis, ids, {"ping": 25})
    assert [r.status if r else None for r in records] == [JobStatus.complete] * count
    assert [r.result["message"] for r in records if r] == [p["message"] for p in payloads]
    assert await redis.hlen(q.priorities) == 0  # type: ignore[misc]

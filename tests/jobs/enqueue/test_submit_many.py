"""`enqueue_many`: many jobs of one type, chunk after chunk, in input order, every one kept."""

from jobs.enqueue.submit import BULK_CHUNK, enqueue_many
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_jobs
from settings import Settings
from tests.support.workers import RunWorker, new_queue, starts


async def test_enqueue_many_over_several_chunks_keeps_input_order_and_enqueues_all(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    count = 2 * BULK_CHUNK + 201  # three script calls
    name = new_queue()
    labels = [f"m{n}" for n in range(count)]
    payloads = [{"label": label} for label in labels]
    out = await enqueue_many(
        redis, "record_start", payloads, queue=name, priority=2, settings=settings
    )
    assert [e.payload["label"] for e in out] == labels
    assert all(e.outcome == "created" and e.priority == 2 and e.queue == name for e in out)
    ids = [e.job_id for e in out]
    assert len(set(ids)) == count
    max_tries = {"record_start": 3}
    queued = await load_jobs(redis, ids, max_tries)
    assert all(r and (r.status, r.priority, r.queue) == (JobStatus.queued, 2, name) for r in queued)

    # One at a time: the start order is the queue's order, FIFO within priority 2.
    await run_worker(worker_queues=name, worker_concurrency=1, claim_batch=1)
    assert await starts(redis) == labels
    records = await load_jobs(redis, ids, max_tries)
    assert [r.status if r else None for r in records] == [JobStatus.complete] * count

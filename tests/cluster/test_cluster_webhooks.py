"""Webhook deliveries on a Redis Cluster: the attempts list lives in the reported job's slot,
the counters in a global hash, the attempt time comes from a node's `TIME`."""

import pytest
from pydantic import SecretStr

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus
from jobs.webhooks.attempts import delivery_stats, load_deliveries
from jobs.webhooks.callback import delivery_for
from settings import Settings
from tests.support.webhook_receiver import deliver_after_final, final_record, webhook_receiver
from tests.support.workers import new_queue, worker_in_background

pytestmark = pytest.mark.cluster


async def test_a_retried_delivery_is_recorded_on_a_cluster(
    settings: Settings, redis: RedisClient
) -> None:
    hooks = _hooks(settings)
    with webhook_receiver(answers=[503]) as receiver:
        hooks = receiver.allowed_in(hooks)
        async with worker_in_background(hooks, redis):
            parent_id, delivery_id, _ = await deliver_after_final(redis, hooks, receiver.url())
            delivery = await final_record(redis, delivery_id)
    assert delivery.status is JobStatus.complete
    attempts = await load_deliveries(redis, parent_id)
    assert [(a.attempt, a.outcome, a.status_code) for a in attempts] == [
        (1, "failed", 503),
        (2, "delivered", 200),
    ]
    stats = await delivery_stats(redis)
    assert stats.outcomes["failed"] == 1 and stats.outcomes["delivered"] == 1


async def test_a_callback_url_job_and_its_delivery_share_a_slot_on_a_cluster(
    settings: Settings, redis: RedisClient
) -> None:
    """Created by one enqueue.lua call (the job's queue's slot), released by the job's settle:
    a failed job on a queue of its own still delivers."""
    hooks, queue = _hooks(settings), new_queue("hooks")
    with webhook_receiver() as receiver:
        hooks = receiver.allowed_in(hooks)
        job = await enqueue(
            redis,
            "always_permanent",
            {},
            queue=queue,
            callback_url=receiver.url(),
            settings=hooks,
        )
        delivery_id = delivery_for(job.job_id, receiver.url()).job_id
        async with worker_in_background(hooks, redis, worker_queues=queue):
            delivery = await final_record(redis, delivery_id)
        [request] = receiver.requests()
    assert delivery.status is JobStatus.complete
    assert b'"status":"failed"' in request.body
    [attempt] = await load_deliveries(redis, job.job_id)
    assert attempt.outcome == "delivered"


def _hooks(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_secret": SecretStr("s"),
            "webhook_allow_http": True,
            "webhook_allow_private": True,
            "webhook_backoff_base_s": 0.01,
            "webhook_backoff_max_s": 0.05,
        }
    )

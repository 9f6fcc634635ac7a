"""Webhook deliveries on a Redis Cluster: the attempts list lives in the reported job's slot,
the counters in a global hash, the attempt time comes from a node's `TIME`."""

import pytest
from pydantic import SecretStr

from jobs.connection import RedisClient
from jobs.store import JobStatus
from jobs.webhooks import delivery_stats, load_deliveries
from settings import Settings
from tests.helpers.webhook_receiver import deliver_after_final, final_record, webhook_receiver
from tests.helpers.workers import background_worker

pytestmark = pytest.mark.cluster


async def test_a_retried_delivery_is_recorded_on_a_cluster(
    settings: Settings, redis: RedisClient
) -> None:
    hooks = settings.model_copy(
        update={
            "webhook_secret": SecretStr("s"),
            "webhook_allow_http": True,
            "webhook_allow_private": True,
            "webhook_backoff_base_s": 0.01,
            "webhook_backoff_max_s": 0.05,
        }
    )
    with webhook_receiver(answers=[503]) as receiver:
        async with background_worker(hooks, redis):
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

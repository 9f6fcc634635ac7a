"""A completion webhook for a job created already (a workflow's node, a batch's job).

`enqueue(..., callback_url=...)` attaches the webhook atomically with its job
(`jobs.webhooks.callback`); this is the after-the-fact way, idempotent instead of atomic.
"""

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.settings import Settings, get_settings
from jobs.webhooks.callback import DELIVERY_JOB, check_callback, delivery_for


async def attach_webhook(
    redis: RedisClient, job_id: str, url: str, *, settings: Settings | None = None
) -> str:
    """Deliver `job_id`'s final JobView to `url`: its delivery job waits for it (or runs at once
    if it is final already). For a job created without `callback_url` (a workflow's or a batch's
    job): one `enqueue.lua` and one `link.lua` call after the job's own, so not atomic with it,
    but idempotent: run it again after a crash. Checks the URL (`InvalidCallback`); an unknown
    or expired `job_id` raises `UnknownParent`. Returns the delivery job's id."""
    settings = settings or get_settings()
    check_callback(url, settings)
    delivery = delivery_for(job_id, url)
    await enqueue(
        redis,
        DELIVERY_JOB,
        delivery.payload,
        queue=delivery.queue,
        job_id=delivery.unique,
        after=[job_id],
        on_parent_failure="ignore",
        settings=settings,
    )
    return delivery.job_id

"""`callback_url` on enqueue: the job and its webhook delivery created in one script call,
linked there, refused before anything is written; `attach_webhook` for a job created already."""

import pytest
from pydantic import SecretStr

from jobs.client import JobClient
from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.graph.dependencies import UnknownParent
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from jobs.tasks.ping import Ping, ping
from jobs.webhooks.attach import attach_webhook
from jobs.webhooks.callback import InvalidCallback, delivery_for
from settings import Settings
from tests.support.webhook_receiver import final_record, webhook_receiver
from tests.support.workers import new_queue, worker_in_background

URL = "https://hooks.example.com/done"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_secret": SecretStr("s3cret"),
            "webhook_allow_http": True,
            "webhook_allow_private": True,
            "webhook_backoff_base_s": 0.01,
            "webhook_backoff_max_s": 0.05,
        }
    )


async def record(redis: RedisClient, job_id: str) -> JobRecord:
    found = await load_job(redis, job_id, {})
    assert found is not None, job_id
    return found


async def test_the_job_and_its_delivery_are_created_together_and_linked(
    redis: RedisClient, settings: Settings
) -> None:
    queue = new_queue()
    job = await enqueue(redis, "ping", {}, queue=queue, callback_url=URL, settings=settings)
    delivery = delivery_for(job.job_id, URL)
    assert delivery.job_id.endswith(f"@{queue}")  # the job's queue: one Cluster slot
    view = await record(redis, delivery.job_id)
    assert view.name == "jobsvc.deliver_webhook" and view.status is JobStatus.waiting
    assert view.after == [job.job_id] and view.waiting_on == 1
    assert view.input == {"job_id": job.job_id, "url": URL, "event_id": delivery.event_id}
    # Linked by enqueue.lua itself: the job's settle releases it (no link.lua call owed).
    q = keys.queue(queue)
    assert await redis.sismember(q.children(job.job_id), delivery.job_id)  # type: ignore[misc]
    assert await redis.sismember(q.parents, job.job_id)  # type: ignore[misc]
    state = await redis.hgetall(q.state(delivery.job_id))  # type: ignore[misc]
    assert state[b"op"] == b"ignore"
    assert (await record(redis, job.job_id)).status is JobStatus.queued


async def test_no_delivery_when_the_enqueue_created_no_job(
    redis: RedisClient, settings: Settings
) -> None:
    first = await enqueue(redis, "ping", {"message": "u"}, unique_for=60, settings=settings)
    again = await enqueue(
        redis, "ping", {"message": "u"}, unique_for=60, callback_url=URL, settings=settings
    )
    assert again.outcome == "unique" and again.job_id == first.job_id
    assert await load_job(redis, delivery_for(first.job_id, URL).job_id, {}) is None
    same_id = await enqueue(redis, "ping", {}, job_id="mine", settings=settings)
    repeated = await enqueue(redis, "ping", {}, job_id="mine", callback_url=URL, settings=settings)
    assert repeated.outcome == "duplicate"
    assert await load_job(redis, delivery_for(same_id.job_id, URL).job_id, {}) is None


async def test_a_bulk_enqueue_gives_every_job_its_own_delivery(
    redis: RedisClient, settings: Settings
) -> None:
    jobs = await enqueue_many(
        redis, "ping", [{"message": str(n)} for n in range(3)], callback_url=URL, settings=settings
    )
    assert [j.outcome for j in jobs] == ["created"] * 3
    for job in jobs:
        delivery = await record(redis, delivery_for(job.job_id, URL).job_id)
        assert delivery.after == [job.job_id] and delivery.status is JobStatus.waiting


@pytest.mark.parametrize(
    ("url", "update", "code"),
    [
        ("https://10.1.2.3/hook", {"webhook_allow_private": False}, "callback_refused"),
        ("https://[::1]/hook", {"webhook_allow_private": False}, "callback_refused"),
        ("http://hooks.example.com/", {"webhook_allow_http": False}, "callback_refused"),
        ("not a url", {}, "callback_refused"),
        ("https://user:pw@hooks.example.com/hook", {}, "callback_refused"),
        (URL, {"webhook_secret": None, "webhook_secrets": []}, "webhooks_not_configured"),
    ],
)
async def test_a_refused_callback_enqueues_nothing(
    redis: RedisClient, settings: Settings, url: str, update: dict[str, object], code: str
) -> None:
    strict = settings.model_copy(update=update)
    with pytest.raises(InvalidCallback) as refused:
        await enqueue(redis, "ping", {}, callback_url=url, settings=strict)
    assert refused.value.code == code
    with pytest.raises(InvalidCallback):
        await enqueue_many(redis, "ping", [{}], callback_url=url, settings=strict)
    assert await redis.zcard(keys.queue(keys.DEFAULT_QUEUE).index) == 0


async def test_an_idempotency_key_outlives_a_deferred_job_with_a_callback(
    redis: RedisClient, settings: Settings
) -> None:
    short = settings.model_copy(update={"result_ttl_s": 60, "failed_ttl_s": 60})
    job = await enqueue(
        redis, "ping", {}, defer_by=3600, idempotency_key="k", callback_url=URL, settings=short
    )
    again = await enqueue(
        redis, "ping", {}, defer_by=3600, idempotency_key="k", callback_url=URL, settings=short
    )
    assert again.outcome == "existing" and again.job_id == job.job_id
    key = keys.queue(keys.DEFAULT_QUEUE).idempotency("ping", "k")
    assert await redis.pttl(key) > 3600 * 1000  # from the job's due time, not its delivery's


async def test_attach_webhook_is_idempotent_and_a_final_job_delivers_at_once(
    redis: RedisClient, settings: Settings
) -> None:
    with webhook_receiver() as receiver:
        settings = receiver.allowed_in(settings)
        url = receiver.url()
        async with worker_in_background(settings, redis):
            job = await enqueue(redis, "ping", {"message": "late"}, settings=settings)
            await final_record(redis, job.job_id)
            first = await attach_webhook(redis, job.job_id, url, settings=settings)
            assert await attach_webhook(redis, job.job_id, url, settings=settings) == first
            delivered = await final_record(redis, first)
        assert delivered.status is JobStatus.complete
        [request] = receiver.requests()
    assert request.headers["X-Webhook-Id"] == delivery_for(job.job_id, url).event_id
    with pytest.raises(UnknownParent):
        await attach_webhook(redis, "no-such-job", url, settings=settings)


async def test_the_python_client_takes_a_callback_url(
    redis: RedisClient, settings: Settings
) -> None:
    jobs = JobClient(redis, settings)
    one = await jobs.enqueue(ping, Ping(), callback_url=URL)
    many = await jobs.enqueue_many(ping, [Ping(), Ping()], callback_url=URL)
    for handle in (one, *many):
        delivery = await record(redis, delivery_for(handle.id, URL).job_id)
        assert delivery.after == [handle.id]
    with pytest.raises(InvalidCallback):
        await jobs.enqueue(ping, Ping(), callback_url="ftp://hooks.example.com/")

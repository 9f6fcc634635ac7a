"""`callback_url` on a workflow or batch: one signed POST once every job is final, reporting
the outcome; written with the workflow (all or nothing); refused before anything is written."""

import orjson
import pytest
from pydantic import SecretStr

from jobs.graph import workflows
from jobs.graph.batches import create_batch
from jobs.graph.workflow_commit import enqueue_workflow, write_gated
from jobs.graph.workflow_retry import retry_workflow
from jobs.graph.workflow_validation import validate
from jobs.graph.workflows import Workflow, task
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from jobs.webhooks.callback import InvalidCallback, delivery_for
from settings import Settings
from tests.support.webhook_receiver import final_record, webhook_receiver
from tests.support.workers import worker_in_background


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


def failing_chain() -> Workflow:
    flow = Workflow()
    flow.add("a", "numbered", {"n": 1})
    flow.add("b", "numbered", {"n": 2, "fail": True}, after=["a"])
    flow.add("c", "gather", {}, after=["b"])
    return flow


async def test_a_workflow_reports_its_outcome_once_all_are_final(
    redis: RedisClient, settings: Settings
) -> None:
    with webhook_receiver() as receiver:
        settings = receiver.allowed_in(settings)
        created = await enqueue_workflow(
            redis, failing_chain(), settings, callback_url=receiver.url()
        )
        assert created.done is not None
        done = await load_job(redis, created.done, {})
        assert done is not None and done.status is JobStatus.waiting and done.waiting_on == 3
        async with worker_in_background(settings, redis):
            delivery = await final_record(redis, delivery_for(created.done, receiver.url()).job_id)
        assert delivery.status is JobStatus.complete
        [request] = receiver.requests()
    view = orjson.loads(request.body)
    assert view["id"] == created.done and view["name"] == "jobsvc.workflow_done"
    outcome = view["result"]
    assert outcome["workflow_id"] == created.id and outcome["status"] == "failed"
    assert outcome["jobs"] == {"a": "complete", "b": "failed", "c": "failed"}
    assert (outcome["total"], outcome["complete"], outcome["failed"]) == (3, 1, 2)
    assert request.headers["X-Signature"].startswith("t=")


async def test_a_batch_reports_after_its_callbacks(redis: RedisClient, settings: Settings) -> None:
    with webhook_receiver() as receiver:
        settings = receiver.allowed_in(settings)
        created = await create_batch(
            redis,
            settings,
            [task("numbered", {"n": i}) for i in range(3)],
            on_success=task("batch_callback", {}),
            callback_url=receiver.url(),
        )
        assert created.done is not None
        async with worker_in_background(settings, redis):
            await final_record(redis, delivery_for(created.done, receiver.url()).job_id)
        [request] = receiver.requests()
    outcome = orjson.loads(request.body)["result"]
    assert outcome["kind"] == "batch" and outcome["status"] == "complete"
    assert outcome["jobs"]["on_success"] == "complete" and outcome["total"] == 4


async def test_a_refused_callback_writes_nothing(redis: RedisClient, settings: Settings) -> None:
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with pytest.raises(InvalidCallback) as refused:
        await enqueue_workflow(redis, failing_chain(), strict, callback_url="https://10.0.0.1/hook")
    assert refused.value.code == "callback_refused"
    assert await redis.dbsize() == 0


async def test_an_uncommitted_workflow_sends_no_webhook(
    redis: RedisClient, settings: Settings
) -> None:
    fast = settings.model_copy(update={"dependency_sweep_s": 0.2})
    with webhook_receiver() as receiver:
        fast = receiver.allowed_in(fast)
        planned = validate(failing_chain(), fast)
        created = await write_gated(redis, fast, planned, callback_url=receiver.url(), commit=False)
        assert created.done is not None
        delivery_id = delivery_for(created.done, receiver.url()).job_id
        async with worker_in_background(fast, redis):
            delivery = await final_record(redis, delivery_id)
            done = await final_record(redis, created.done)
        assert receiver.requests() == []
    for job in (delivery, done):
        assert job.status is JobStatus.failed and job.error and job.error.type == "ParentFailed"
        assert job.started_at is None


async def test_a_retried_workflow_reports_again(redis: RedisClient, settings: Settings) -> None:
    with webhook_receiver() as receiver:
        settings = receiver.allowed_in(settings)
        created = await enqueue_workflow(
            redis, failing_chain(), settings, callback_url=receiver.url()
        )
        assert created.done is not None
        async with worker_in_background(settings, redis):
            await final_record(redis, delivery_for(created.done, receiver.url()).job_id)
            state = await workflows.load(redis, created.id, {})
            assert state is not None and state.status == "failed"
            await retry_workflow(redis, state, settings, inputs={"b": {"n": 2}})
            retried = await workflows.load(redis, created.id, {})
            assert retried is not None and retried.record.done not in (None, created.done)
            assert retried.record.done is not None
            delivery = delivery_for(retried.record.done, receiver.url()).job_id
            await final_record(redis, delivery)
        first, second = receiver.requests()
    assert orjson.loads(first.body)["result"]["status"] == "failed"
    outcome = orjson.loads(second.body)["result"]
    assert outcome["workflow_id"] == created.id and outcome["status"] == "complete"
    assert outcome["jobs"] == {"a": "complete", "b": "complete", "c": "complete"}

"""Queues from Python: an enqueue names its queue; a worker serves several, strict or weighted."""

import random
from collections import Counter

import pytest

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from jobs.worker.queue_order import InvalidQueueSpec, ServedQueues
from settings import Settings
from tests.support.workers import RunWorker, new_queue, starts

ONE_AT_A_TIME = {"worker_concurrency": 1, "claim_batch": 1}
BAD_NAMES = [
    "bad name",
    "a/b",
    "x" * 65,
    "é",
    "{q}",
    pytest.param(
        "q\n",
    ),
]


async def test_queue_override_puts_the_job_on_that_queue(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    name = new_queue()
    one = await enqueue(redis, "ping", {}, queue=name, settings=settings)
    declared_elsewhere = await enqueue(redis, "on_emails_queue", {}, queue=name, settings=settings)
    many = await enqueue_many(redis, "ping", [{}, {}], queue=name, settings=settings)
    ids = [one.job_id, declared_elsewhere.job_id, *(e.job_id for e in many)]
    for job_id in ids:
        assert job_id.endswith(f"@{name}") and keys.queue_of(job_id) == name
    await run_worker(worker_queues=f"{settings.queue_name},emails")  # leaves them alone
    for job_id in ids:
        record = await load_job(redis, job_id, {})
        assert record is not None and record.status is JobStatus.queued
        assert record.queue == name
    await run_worker(worker_queues=name)
    for job_id in ids:
        record = await load_job(redis, job_id, {})
        assert record is not None and record.status is JobStatus.complete
        assert record.queue == name


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_invalid_queue_name_raises_and_enqueues_nothing(
    redis: RedisClient, settings: Settings, name: str
) -> None:
    with pytest.raises(keys.InvalidQueueName):
        await enqueue(redis, "ping", {}, queue=name, settings=settings)
    with pytest.raises(keys.InvalidQueueName):
        await enqueue_many(redis, "ping", [{}, {}], queue=name, settings=settings)
    assert await redis.dbsize() == 0


async def test_empty_queue_name_raises_and_enqueues_nothing(
    redis: RedisClient, settings: Settings
) -> None:
    with pytest.raises(keys.InvalidQueueName):
        await enqueue(redis, "ping", {}, queue="", settings=settings)
    assert await redis.dbsize() == 0


async def test_strict_worker_drains_the_first_queue_before_the_next(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    first, second = new_queue("first"), new_queue("second")
    for _ in range(4):  # the second queue's jobs are older: order comes from the spec alone
        await enqueue(redis, "record_start", {"label": second}, queue=second, settings=settings)
    for _ in range(4):
        await enqueue(redis, "record_start", {"label": first}, queue=first, settings=settings)
    await run_worker(worker_queues=f"{first},{second}", **ONE_AT_A_TIME)
    assert await starts(redis) == [first] * 4 + [second] * 4


async def test_weighted_worker_serves_every_queue_without_starvation(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    names = {"a": new_queue("a"), "b": new_queue("b"), "c": new_queue("c")}
    per_queue = 40
    for label, name in names.items():
        payloads = [{"label": label} for _ in range(per_queue)]
        await enqueue_many(redis, "record_start", payloads, queue=name, settings=settings)
    spec = f"{names['a']}:6,{names['b']}:3,{names['c']}:1"
    state = random.getstate()
    random.seed(20261125)  # the weighted draw uses `random`: the same rounds every run
    try:
        await run_worker(worker_queues=spec, **ONE_AT_A_TIME)
    finally:
        random.setstate(state)
    order = await starts(redis)
    assert Counter(order) == {"a": per_queue, "b": per_queue, "c": per_queue}
    first = Counter(order[:60])  # every queue still has jobs during the first 60 claims
    assert first["a"] > first["b"] > first["c"] > 0, first


@pytest.mark.parametrize(
    "spec",
    [
        "a:6,b",  # weights for some queues only
        "a,b:3",
        "a,a",  # a queue twice
        "a:6,a:3",
        "bad name",
        "a,b/c",
        "x" * 65,
        "a:0,b:1",  # a zero weight among others
        "a:1,arq:queue",
    ],
)
def test_malformed_worker_queues_are_refused(spec: str) -> None:
    with pytest.raises(InvalidQueueSpec):
        ServedQueues.parse(spec, keys.DEFAULT_QUEUE)


def test_zero_weights_are_refused() -> None:
    with pytest.raises(InvalidQueueSpec):
        ServedQueues.parse("a:0,b:0", keys.DEFAULT_QUEUE)


@pytest.mark.parametrize(
    ("spec", "names", "weights"),
    [
        ("", [keys.DEFAULT_QUEUE], None),
        ("critical,default,low", ["critical", "default", "low"], None),
        (" critical:6, default:3 ,low:1 ", ["critical", "default", "low"], (6, 3, 1)),
        ("arq:queue", [keys.DEFAULT_QUEUE], None),  # a colon in a name is not a weight
        ("arq:queue:2,emails:1", [keys.DEFAULT_QUEUE, "emails"], (2, 1)),
    ],
)
def test_worker_queues_are_read_strict_or_weighted(
    spec: str, names: list[str], weights: tuple[int, ...] | None
) -> None:
    served = ServedQueues.parse(spec, keys.DEFAULT_QUEUE)
    assert [q.name for q in served.queues] == names
    assert served.weights == weights
    if weights is None:
        assert [q.name for q in served.order()] == names  # strict: always the same order


async def test_caller_chosen_id_with_an_at_sign_is_refused_or_followed(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    try:
        enqueued = await enqueue(redis, "ping", {}, job_id="order-1@emails", settings=settings)
    except ValueError:
        assert await redis.dbsize() == 0  # refused: fine
        return
    await run_worker()
    record = await load_job(redis, enqueued.job_id, {})
    assert record is not None and record.status is JobStatus.complete


def test_a_star_serves_the_default_queue_then_every_registered_one_unstarved() -> None:
    star = ServedQueues.parse(" * ", "arq:queue")
    assert star.every and [q.name for q in star.queues] == ["arq:queue"]
    assert star.names() == ["*"] and star.describe() == "*"
    grown = star.with_registered({"b", "arq:queue", "a", "not a name"})
    assert [q.name for q in grown.queues] == ["arq:queue", "a", "b"]
    assert grown.weights == (1, 1, 1) and grown.names() == ["*"]
    named = ServedQueues.parse("a,b", "arq:queue")
    assert named.with_registered({"c"}) is named and named.names() == ["a", "b"]
    with pytest.raises(InvalidQueueSpec):
        ServedQueues.parse("a,*", "arq:queue")

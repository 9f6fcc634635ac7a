"""Job change notifications (`jobs.reading.changes`): a listener hears every change published
on the events channel and reads the job ids a message names."""

from redis.asyncio.client import PubSub

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.changes import changed_jobs, subscribe
from tests.support.waiting import eventually


async def test_a_published_change_is_heard_with_the_ids_it_names(redis: RedisClient) -> None:
    async def listeners() -> int:
        [(_, count)] = await redis.pubsub_numsub(keys.EVENTS)
        return int(count)

    others = await listeners()  # e.g. an app of another test still closing
    pubsub: PubSub = await subscribe(redis)
    heard: list[bytes] = []

    async def subscribed() -> bool:
        return await listeners() > others

    async def message_heard() -> bool:
        message = await pubsub.get_message(timeout=0.05)
        if message is not None:
            heard.append(message["data"])
        return bool(heard)

    try:
        await eventually(subscribed)
        await redis.publish(keys.EVENTS, "finished job-1 job-2@emails")
        await eventually(message_heard)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert [changed_jobs(data) for data in heard] == [["job-1", "job-2@emails"]]

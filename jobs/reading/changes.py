"""Job change notifications: the channel every state change is published on (by the Lua
scripts and `JobContext.progress`), and how a listener reads it."""

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from jobs.layout import keys
from jobs.layout.records import Event


async def subscribe(client: Redis) -> PubSub:
    """A pub/sub connection listening to every job's changes."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.EVENTS)
    return pubsub


def changed_jobs(data: bytes) -> list[str]:
    """The job ids a published message names."""
    return Event.parse(data).job_ids

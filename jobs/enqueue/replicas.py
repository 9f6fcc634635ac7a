"""`ENQUEUE_WAIT_REPLICAS`: an enqueue acknowledged only once replicas have its write.

Replication is asynchronous: a primary that fails right after answering takes the writes its
replicas had not received yet with it, and Sentinel promotes a replica without them: jobs the
API acknowledged are gone. `WAIT n timeout` after the enqueue script blocks until `n` replicas
have every write the connection made (so it must go on the script's connection: one pipeline,
the script then `WAIT`). Fewer than `n` in time: `NotReplicated`, the API's 503
`enqueue_not_replicated`; the write is on the primary (and likely replicated later), but not
known durable, so the caller is not told it is.
"""

from typing import Any

from redis.exceptions import NoScriptError

from jobs.layout.connection import RedisClient
from jobs.layout.scripts import Script
from jobs.settings import Settings


class NotReplicated(Exception):
    """Fewer replicas than `ENQUEUE_WAIT_REPLICAS` acknowledged the enqueue in time."""

    def __init__(self, acknowledged: int, wanted: int, timeout_ms: int) -> None:
        super().__init__(
            f"the enqueue reached {acknowledged} of {wanted} replicas within {timeout_ms} ms: "
            "written on the primary but not known durable; send it again (with its "
            "Idempotency-Key) to be sure"
        )
        self.acknowledged = acknowledged
        self.wanted = wanted


async def call(
    script: Script, redis: RedisClient, keys: list[str], args: list[Any], settings: Settings
) -> Any:
    """`script(redis, keys, args)`, then, with `ENQUEUE_WAIT_REPLICAS`, its `WAIT`."""
    wanted = settings.enqueue_wait_replicas
    if not wanted:
        return await script(redis, keys, args)
    if len(keys) != script.key_count:
        await script(redis, keys, args)  # raises its WrongKeyCount
    reply, acknowledged = await _with_wait(redis, script.sha, keys, args, settings, sha=True)
    if isinstance(reply, NoScriptError):  # not written: send the source, then wait again
        reply, acknowledged = await _with_wait(redis, script.source, keys, args, settings)
    for answer in (reply, acknowledged):
        if isinstance(answer, Exception):
            raise answer
    check(int(acknowledged), settings)
    return reply


async def _with_wait(
    redis: RedisClient,
    script: str,
    keys: list[str],
    args: list[Any],
    settings: Settings,
    *,
    sha: bool = False,
) -> list[Any]:
    """The script and `WAIT` in one pipeline: one connection, one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        if sha:
            pipe.evalsha(script, len(keys), *keys, *args)
        else:
            pipe.eval(script, len(keys), *keys, *args)
        pipe.execute_command(
            "WAIT", settings.enqueue_wait_replicas, settings.enqueue_wait_timeout_ms
        )
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies


def check(acknowledged: int, settings: Settings) -> None:
    """`NotReplicated` if `WAIT` answered fewer replicas than wanted."""
    if acknowledged < settings.enqueue_wait_replicas:
        raise NotReplicated(
            acknowledged, settings.enqueue_wait_replicas, settings.enqueue_wait_timeout_ms
        )

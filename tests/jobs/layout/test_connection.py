"""The pool lends only clean connections, checked without a read (`jobs.layout.connection`)."""

import asyncio
from typing import Any

from jobs.layout.connection import RedisClient, create_redis
from settings import Settings
from tests.support.waiting import eventually


def _pooled(redis: RedisClient) -> Any:
    """The pool's one idle connection (the tests below make exactly one)."""
    (connection,) = redis.connection_pool._available_connections
    return connection


async def _buffered(connection: Any) -> bool:
    return bool(connection._parser._stream._buffer)


async def test_a_connection_with_an_unread_reply_is_not_lent_as_it_is(redis: RedisClient) -> None:
    await redis.set("k", "stale")
    connection = _pooled(redis)
    # A reply nobody reads (as after a command cut short): it arrives in the stream buffer.
    await connection.send_command("GET", "k")
    await eventually(lambda: _buffered(connection))
    assert await connection.can_read_destructive() is True
    # The pool sees it and reconnects: the next command gets its own reply, not "stale".
    assert await redis.echo("fresh") == b"fresh"


async def test_a_connection_the_server_closed_is_replaced(
    redis: RedisClient, settings: Settings
) -> None:
    own_id = await redis.client_id()
    connection = _pooled(redis)
    other = create_redis(settings)
    try:
        await other.client_kill_filter(_id=own_id)  # e.g. a server-side idle timeout
    finally:
        await other.aclose()

    async def closed() -> bool:
        return bool(connection._parser._stream.at_eof())

    await eventually(closed)
    assert await connection.can_read_destructive() is True
    assert await redis.echo("after") == b"after"


async def test_a_clean_connection_is_lent_as_it_is(redis: RedisClient) -> None:
    await redis.ping()
    connection = _pooled(redis)
    assert await connection.can_read_destructive() is False
    assert await redis.echo("x") == b"x"
    assert _pooled(redis) is connection  # reused, not reconnected


async def test_a_capped_pool_opens_no_more_connections_than_its_cap(
    settings: Settings, redis: RedisClient
) -> None:
    """`REDIS_MAX_CONNECTIONS`: commands past the cap wait for a connection instead of opening
    one (or failing), so a process stays within a plan's connection limit."""
    capped = create_redis(
        settings.model_copy(update={"redis_max_connections": 3}), client_name="capped"
    )
    try:
        replies = await asyncio.gather(*(capped.ping() for _ in range(40)))
        clients = await redis.client_list()
    finally:
        await capped.aclose()
    assert replies == [True] * 40
    assert 1 <= sum(1 for c in clients if c["name"] == "capped") <= 3

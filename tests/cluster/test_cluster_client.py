"""The cluster client's edges, in-process: layout failures are Redis errors, TLS reaches every
connection, scripts may build keys of their own slot, an idle one-queue claim blocks."""

import asyncio

import pytest
from redis.asyncio.connection import SSLConnection
from redis.exceptions import RedisError

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import (
    NON_LOCAL_KEY,
    ClusterUnavailable,
    RedisClient,
    create_redis,
    pubsub_client,
)
from jobs.worker.claim import Claimer
from jobs.worker.queue_order import ServedQueues
from scripts.embedded_redis import free_port
from settings import Settings
from tests.support.cluster import ValkeyCluster
from tests.support.waiting import eventually

pytestmark = pytest.mark.cluster


async def test_a_cluster_that_no_seed_answers_is_a_redis_error() -> None:
    """redis-py raises `RedisClusterException` (no `RedisError`), which no retry loop caught."""
    nowhere = Settings(redis_cluster_nodes=[f"127.0.0.1:{free_port()}"])
    client = create_redis(nowhere)
    with pytest.raises(ClusterUnavailable) as raised:
        await client.ping()
    assert isinstance(raised.value, RedisError)
    with pytest.raises(ClusterUnavailable):
        async with client.pipeline(transaction=False) as pipe:
            pipe.get("x")
            await pipe.execute()
    await client.aclose()


def test_tls_and_credentials_from_a_rediss_url_reach_the_cluster_and_pubsub_clients() -> None:
    settings = Settings(
        redis_url="rediss://user:secret@127.0.0.1:6379/0",
        redis_cluster_nodes=["127.0.0.1:7000", "127.0.0.1:7001"],
    )
    cluster = create_redis(settings)
    assert issubclass(cluster.connection_kwargs["connection_class"], SSLConnection)  # type: ignore[attr-defined]
    assert cluster.connection_kwargs["password"] == "secret"  # type: ignore[attr-defined]
    for attempt, port in enumerate((7000, 7001, 7000)):
        pubsub = pubsub_client(settings, attempt)
        pool = pubsub.connection_pool
        assert issubclass(pool.connection_class, SSLConnection)
        assert (pool.connection_kwargs["port"], pool.connection_kwargs["password"]) == (
            port,
            "secret",
        )


async def test_scripts_may_touch_undeclared_keys_of_their_own_slot_only(
    redis: RedisClient, cluster: ValkeyCluster
) -> None:
    """The Lua scripts build per-job keys from the queue's prefix (`jobsvc:{q}:lease:<id>`)
    without declaring them: the cluster allows it within the declared keys' slot."""
    q = keys.queue("a")
    script = "redis.call('SET', ARGV[1], '1'); return redis.call('GET', ARGV[1])"
    assert await redis.eval(script, 1, q.due, q.lease("j1")) == b"1"  # type: ignore[misc]
    here = await cluster.primary_port_of(q.due)
    for name in ("b", "c", "d", "e"):
        elsewhere = keys.queue(name)
        if await cluster.primary_port_of(elsewhere.due) != here:
            break
    # Refused. The same refusal meets a script during a slot migration, where it is
    # transient, and it reads the same: the client reports it as the cluster unavailable.
    with pytest.raises(ClusterUnavailable, match=NON_LOCAL_KEY):
        await redis.eval(script, 1, q.due, elsewhere.lease("j1"))  # type: ignore[misc]


async def test_an_idle_one_queue_claim_blocks_then_takes_the_job_enqueued_meanwhile(
    redis: RedisClient, settings: Settings
) -> None:
    """BLPOP and the claim script go to the queue's node in one pipeline (redis-py refuses
    `pipe.evalsha` in a cluster pipeline: the worker used to spin on claims instead)."""
    claimer = Claimer(redis, "w-test", ServedQueues.parse("c", "arq:queue"), 5000, legacy=False)
    # The enqueue lands before or after the BLPOP: either way its wake token ends the BLPOP
    # and the claim behind it takes the job.
    waiting = asyncio.create_task(claimer.wait_then_claim(5.0, 10))
    enqueued = await enqueue(redis, "ping", {}, queue="c", settings=settings)
    claims = await asyncio.wait_for(waiting, 10)
    assert [c.job_id for c in claims.jobs] == [enqueued.job_id]


async def test_a_claim_whose_connection_drops_is_reported_not_resent(
    redis: RedisClient, settings: Settings, cluster: ValkeyCluster
) -> None:
    """redis-py's cluster client resends a command after a connection error, even when the
    script may have run: a claim resent that way leaves the first claim's jobs to wait out
    their lease. The claimer sends claims so that it hears of the error (and recovers the
    claim by its id on the next call, as on a single Redis)."""
    enqueued = await enqueue(redis, "ping", {}, queue="c", settings=settings)
    claimer = Claimer(redis, "w-drop", ServedQueues.parse("c", "arq:queue"), 5000, legacy=False)
    node = await cluster.primary_port_of(keys.queue("c").due)
    await cluster.command(node, "CLIENT", "PAUSE", "5000", "WRITE")
    try:
        claiming = asyncio.create_task(claimer.claim(10))

        async def held() -> bool:
            clients = (await cluster.command(node, "CLIENT", "LIST")).decode()
            return "cmd=evalsha" in clients

        await eventually(held)
        clients = (await cluster.command(node, "CLIENT", "LIST")).decode().splitlines()
        held_id = next(c for c in clients if "cmd=evalsha" in c).split()[0].partition("=")[2]
        await cluster.command(node, "CLIENT", "KILL", "ID", held_id)
    finally:
        await cluster.command(node, "CLIENT", "UNPAUSE")
    with pytest.raises(RedisError):
        await claiming
    claims = await claimer.claim(10)
    assert [(c.job_id, c.tries) for c in claims.jobs] == [(enqueued.job_id, 1)]

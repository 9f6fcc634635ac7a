"""The eviction guard: job definitions and results carry TTLs, so under memory pressure a
`volatile-*` or `allkeys-*` maxmemory policy lets the server drop queued jobs without a trace.
Only `noeviction` is safe (a full server then refuses writes, which callers see and retry).
The worker and the web check at start and warn loudly; `/ready` reports the policy."""

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

logger = logging.getLogger("jobs")

SAFE_POLICY = "noeviction"


async def eviction_policy(redis: Redis) -> str | None:
    """The server's `maxmemory-policy`, or None if it cannot be read.

    Read from `INFO memory`, which managed Redis services allow where `CONFIG GET` is disabled.
    A server that refuses INFO (an ACL, a proxy) gives None; a connection failure is raised, so
    that callers can tell "unknown" from "unreachable"."""
    try:
        info = await redis.info("memory")
    except ResponseError:
        return None
    policy = info.get("maxmemory_policy")
    if isinstance(policy, bytes):
        policy = policy.decode()
    return policy if isinstance(policy, str) and policy else None


def policy_warning(policy: str | None) -> str | None:
    """A loud message unless `policy` is `noeviction`; None when all is well."""
    if policy == SAFE_POLICY:
        return None
    if policy is None:
        return (
            "EVICTION POLICY UNKNOWN: could not read the Redis server's maxmemory-policy; "
            f"unless it is '{SAFE_POLICY}', the server may drop queued jobs when memory runs out"
        )
    return (
        f"EVICTION POLICY IS '{policy}': when memory runs out the Redis server will silently "
        f"drop jobs (their keys carry TTLs). Set maxmemory-policy to '{SAFE_POLICY}'"
    )


async def warn_unless_safe(redis: Redis, timeout_s: float = 3.0) -> None:
    """At start (web and worker): log loudly unless the policy is `noeviction`. Bounded, and
    never fatal: the process starts even if Redis is away (it says so and goes on)."""
    try:
        async with asyncio.timeout(timeout_s):
            policy = await eviction_policy(redis)
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning("could not read the Redis eviction policy at start: %s", exc)
        return
    warning = policy_warning(policy)
    if warning:
        logger.warning(warning)

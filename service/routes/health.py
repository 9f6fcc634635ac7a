"""Liveness and readiness for the platform and load balancers."""

from fastapi import APIRouter, Response, status
from redis.exceptions import RedisError

from jobs.layout.eviction import eviction_policy, policy_warning
from jobs.reading.queues import unserved_with_jobs
from jobs.worker import heartbeat
from service.deps import CatalogDep, RedisDep
from service.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Health:
    """Liveness: the process answers. Does not touch Redis."""
    return Health(status="ok")


@router.get("/ready", responses={503: {"model": Readiness}})
async def ready(redis: RedisDep, catalog: CatalogDep, response: Response) -> Readiness:
    """Readiness: Redis answers and at least one worker's heartbeat is fresh; else 503.

    Also reports the server's eviction policy, with a warning unless it is `noeviction` (an
    evicting server drops queued jobs), and each queue that holds jobs no live worker serves
    (they wait until a worker with it in `WORKER_QUEUES`, or `*`, starts); neither alone makes
    the service unready."""
    try:
        await redis.ping()
        workers = await heartbeat.live_workers(redis)
        policy = await eviction_policy(redis)
        unserved = await unserved_with_jobs(redis, {spec.queue for spec in catalog.values()})
    except (RedisError, OSError):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(status="unavailable", redis=False, workers=0, freshest_heartbeat_s=None)
    freshest = min(workers.values()) if workers else None
    if not workers:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        status="ready" if workers else "no_workers",
        redis=True,
        workers=len(workers),
        freshest_heartbeat_s=freshest,
        eviction_policy=policy,
        warnings=[
            *([warning] if (warning := policy_warning(policy)) else []),
            *(f"no live worker serves queue {name!r}, which holds jobs" for name in unserved),
        ],
    )

"""Queue depths and workers, for operators and the dashboard."""

import time

from fastapi import APIRouter

from jobs import heartbeat, keys
from service.deps import ArqDep, SettingsDep
from service.schemas import AUTH_ERRORS, STORE_ERRORS, QueueStats

router = APIRouter(tags=["queues"], responses={**AUTH_ERRORS, **STORE_ERRORS})


@router.get("/queues")
async def list_queues(redis: ArqDep, settings: SettingsDep) -> list[QueueStats]:
    """Per queue: queued, deferred, in progress, failed, the oldest waiting job's age, workers."""
    queue = settings.queue_name
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(queue, "-inf", now_ms)
        pipe.zcard(queue)
        pipe.zrange(queue, 0, 0, withscores=True)
        pipe.zcard(keys.FAILED)
        ready, total, oldest, failed = await pipe.execute()
    workers = await heartbeat.live_workers(redis)
    # From the workers' heartbeats (not a keyspace scan): at most `heartbeat_s` old.
    details = await heartbeat.worker_details(redis, list(workers))
    in_progress = sum(int(d.get("running", 0)) for d in details if d.get("queue") == queue)
    oldest_age = None
    if ready and oldest:
        oldest_age = max((now_ms - oldest[0][1]) / 1000, 0.0)
    # Running jobs sit in the queue with their lease's end as score: count them apart.
    waiting_later = max(total - ready - in_progress, 0)
    return [
        QueueStats(
            name=queue,
            queued=ready,
            deferred=waiting_later,
            in_progress=in_progress,
            failed=failed,
            oldest_waiting_s=oldest_age,
            workers=len(workers),
        )
    ]

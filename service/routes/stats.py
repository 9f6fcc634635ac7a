"""`GET /stats`: the workers and per-job totals as JSON, for the dashboard (what `/metrics`
reports, in a shape a page can read)."""

from datetime import UTC, datetime

from fastapi import APIRouter

from jobs.declare.models import Model
from jobs.reading import stats
from jobs.reading.stats import OUTCOMES
from service import metrics
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.schemas import AUTH_ERRORS, STORE_ERRORS

router = APIRouter(tags=["operations"], responses={**AUTH_ERRORS, **STORE_ERRORS})


class WorkerInfo(Model):
    id: str
    queues: list[str]
    heartbeat_age_s: float
    running: int
    complete: int
    failed: int
    retried: int
    aborted: int
    stopping: bool


class JobTypeStats(Model):
    name: str
    complete: int
    failed: int
    aborted: int
    retried: int
    mean_duration_s: float | None


class ServiceStats(Model):
    workers: list[WorkerInfo]
    jobs: list[JobTypeStats]
    oldest_running_s: float
    """The longest-running try's age, from the workers' heartbeats."""


@router.get("/stats")
async def service_stats(
    redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> ServiceStats:
    """Live workers and, per job type, finished tries by outcome since the stats began (all
    workers together). Poll it twice to get throughput and failure rate."""
    reading = await metrics.read(redis, catalog, settings)
    ages = reading.workers
    workers = [
        WorkerInfo(
            id=str(d.get("id")),
            queues=[q for q in d.get("queues", []) if isinstance(q, str)],
            heartbeat_age_s=round(ages.get(str(d.get("id")), 0.0), 3),
            running=int(d.get("running", 0)),
            complete=int(d.get("complete", 0)),
            failed=int(d.get("failed", 0)),
            retried=int(d.get("retried", 0)),
            aborted=int(d.get("aborted", 0)),
            stopping=bool(d.get("stopping")),
        )
        for d in reading.details
    ]
    names = sorted({job for job, _ in reading.stats.outcomes} | set(reading.stats.durations))
    jobs = []
    for name in names:
        hist = reading.stats.durations.get(name)
        counts = {o: reading.stats.outcomes.get((name, o), 0) for o in OUTCOMES}
        jobs.append(
            JobTypeStats(
                name=name,
                mean_duration_s=hist.sum_s / hist.count if hist and hist.count else None,
                **counts,
            )
        )
    return ServiceStats(workers=workers, jobs=jobs, oldest_running_s=reading.oldest_running_s())


class Minute(Model):
    at: datetime
    complete: int = 0
    failed: int = 0
    retried: int = 0
    aborted: int = 0


@router.get("/stats/history")
async def stats_history(redis: RedisDep) -> list[Minute]:
    """Tries that ended in each of the last 60 minutes, by outcome, all workers together
    (oldest first): the dashboard's chart."""
    return [
        Minute(at=datetime.fromtimestamp(minute / 1000, UTC), **counts)
        for minute, counts in await stats.history(redis)
    ]

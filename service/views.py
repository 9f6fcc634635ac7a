"""Load a JobView or answer 404: what every route about one job starts with."""

from starlette.types import Scope

from jobs.declare.registry import JobSpec
from jobs.layout.connection import RedisClient, is_cluster
from jobs.layout.ids import InvalidQueueName
from jobs.reading.job_record import load_job, load_jobs
from jobs.settings import Settings
from service.declared import names_known_queue
from service.errors import JobNotFound
from service.schemas import JobView


def max_tries_by_name(catalog: dict[str, JobSpec]) -> dict[str, int]:
    return {name: spec.max_tries for name, spec in catalog.items()}


def reads_legacy(settings: Settings) -> bool:
    """On a single Redis, stock ARQ producers' definitions (`arq:job:{id}`) are read too."""
    return not is_cluster(settings)


async def load_view(
    redis: RedisClient, catalog: dict[str, JobSpec], settings: Settings, job_id: str
) -> JobView:
    try:
        record = None
        # An id on a queue nothing declares names no job: no key of that queue is read.
        if await names_known_queue(redis, catalog, settings, job_id):
            record = await load_job(
                redis, job_id, max_tries_by_name(catalog), legacy=reads_legacy(settings)
            )
    except InvalidQueueName:
        record = None  # an id naming an impossible queue names no job
    if record is None:
        raise JobNotFound(f"no job {job_id!r} (unknown or expired)")
    return record


async def load_views(
    redis: RedisClient, catalog: dict[str, JobSpec], settings: Settings, job_ids: list[str]
) -> list[JobView]:
    """The views of jobs just enqueued or found (ids that name their queue), in one pipeline;
    one gone meanwhile (expired, or fire-and-forget) answers 404 like `load_view`."""
    records = await load_jobs(
        redis, job_ids, max_tries_by_name(catalog), legacy=reads_legacy(settings)
    )
    for job_id, record in zip(job_ids, records, strict=True):
        if record is None:
            raise JobNotFound(f"no job {job_id!r} (unknown or expired)")
    return [r for r in records if r is not None]


def job_location(scope: Scope, job_id: str) -> str:
    """`/jobs/{id}`, under the prefix the service is mounted at, if any."""
    return f"{scope.get('root_path', '')}/jobs/{job_id}"

"""Load a JobView or answer 404: what every route about one job starts with."""

from arq.connections import ArqRedis

from jobs.registry import JobSpec
from jobs.store import load_job
from service.errors import JobNotFound
from service.schemas import JobView
from settings import Settings


def max_tries_by_name(catalog: dict[str, JobSpec]) -> dict[str, int]:
    return {name: spec.max_tries for name, spec in catalog.items()}


async def load_view(
    redis: ArqRedis, catalog: dict[str, JobSpec], settings: Settings, job_id: str
) -> JobView:
    record = await load_job(redis, job_id, settings.queue_name, max_tries_by_name(catalog))
    if record is None:
        raise JobNotFound(f"no job {job_id!r} (unknown or expired)")
    return record

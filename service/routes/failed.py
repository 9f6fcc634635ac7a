"""`POST /failed/retry` and `DELETE /failed`: the failed jobs in bulk, optionally of one type."""

from typing import Annotated

from fastapi import APIRouter, Query

from jobs.declare.models import Model
from jobs.reading import failed
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.routes.jobs import known_queues
from service.schemas import AUTH_ERRORS, STORE_ERRORS
from service.views import reads_legacy

router = APIRouter(tags=["jobs"], responses={**AUTH_ERRORS, **STORE_ERRORS})

NameFilter = Annotated[str | None, Query(max_length=200, description="Only this job type.")]


class Bulk(Model):
    count: int
    """Failed jobs retried (or purged)."""
    skipped: int = 0
    """Failed jobs of a type no longer declared, or whose input no longer fits its model: left
    as they are."""


@router.post("/failed/retry")
async def retry_failed(
    redis: RedisDep, catalog: CatalogDep, settings: SettingsDep, name: NameFilter = None
) -> Bulk:
    """Retry every failed job (of one type): each becomes a new job with the same input, queue
    and priority, and leaves the failed list. At most 10,000 per call."""
    queues = await known_queues(redis, catalog, settings)
    records = await failed.failed_records(redis, queues, name, reads_legacy(settings))
    done = await failed.retry_all(redis, records, catalog, settings)
    return Bulk(count=done.count, skipped=done.skipped)


@router.delete("/failed")
async def purge_failed(
    redis: RedisDep, catalog: CatalogDep, settings: SettingsDep, name: NameFilter = None
) -> Bulk:
    """Delete every failed job (of one type): records and list entries. At most 10,000 per
    call."""
    queues = await known_queues(redis, catalog, settings)
    records = await failed.failed_records(redis, queues, name, reads_legacy(settings))
    return Bulk(count=(await failed.purge(redis, records)).count)

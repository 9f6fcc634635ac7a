"""`GET /jobs/{id}/deliveries`: every attempt to deliver a job's completion webhook."""

from fastapi import APIRouter

from jobs.webhooks.attempts import DeliveryAttempt, load_deliveries
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.routes.jobs import JobId
from service.schemas import ERROR_RESPONSES
from service.views import load_view

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)


@router.get("/jobs/{job_id}/deliveries")
async def job_deliveries(
    job_id: JobId, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> list[DeliveryAttempt]:
    """The job's webhook delivery attempts, oldest first: when, to which URL, the receiver's
    status or the error, and how long each took. Empty when none was made (yet); kept as long
    as the job's result."""
    await load_view(redis, catalog, settings, job_id)  # 404 for an unknown or expired job
    return await load_deliveries(redis, job_id)

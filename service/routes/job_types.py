"""The job catalog: what can be enqueued, with its input and output contracts."""

from datetime import UTC, datetime

from fastapi import APIRouter

from jobs.cron.schedules import schedules_for
from service.deps import CatalogDep
from service.schemas import AUTH_ERRORS, CronInfo, JobLimits, JobType

router = APIRouter(tags=["job types"], responses=AUTH_ERRORS)


@router.get("/job-types")
async def list_job_types(catalog: CatalogDep) -> list[JobType]:
    """Every job a client may enqueue (not the service's internal ones, e.g. webhook
    deliveries): its input and output JSON Schema, retry and timeout policy, cron schedules,
    flow-control limits."""
    schedules = schedules_for(catalog)
    return [
        JobType(
            name=spec.name,
            description=spec.description,
            queue=spec.queue,
            max_tries=spec.max_tries,
            timeout_s=spec.timeout_s,
            input_schema=spec.enqueue_model.model_json_schema(),
            output_schema=spec.output_model.model_json_schema(),
            cron=[
                CronInfo(schedule=s.describe(), next_run=s.next_after(datetime.now(UTC)))
                for s in schedules
                if s.job == spec.name
            ],
            limits=JobLimits(**spec.flow.describe()),
        )
        for spec in sorted(catalog.values(), key=lambda s: s.name)
        if not spec.internal
    ]

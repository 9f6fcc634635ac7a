"""`GET /cron`: the schedules, their next and last run; pause, resume and run one now."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from jobs.cron import runner
from jobs.cron.schedules import Schedule, schedules_for
from jobs.declare.models import Model
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.errors import ScheduleNotFound
from service.routes.enqueue import created_view
from service.schemas import AUTH_ERRORS, STORE_ERRORS, JobView, error_response
from service.views import job_location

router = APIRouter(tags=["cron"], responses={**AUTH_ERRORS, **STORE_ERRORS})

ScheduleName = Annotated[str, Path(max_length=200, description="A schedule's name.")]


class CronSchedule(Model):
    name: str
    job: str
    cron: str
    """Five fields (minute hour day month weekday), or six with seconds last."""
    tz: str
    missed: str
    """"skip" or "run_once": what a worker does about ticks that passed while none ran."""
    paused: bool
    next_run: datetime
    last_run: datetime | None


def _find(catalog: CatalogDep, name: str) -> Schedule:
    for s in schedules_for(catalog):
        if s.key == name:
            return s
    raise ScheduleNotFound(f"no cron schedule named {name!r}")


@router.get("/cron")
async def list_schedules(redis: RedisDep, catalog: CatalogDep) -> list[CronSchedule]:
    """Every schedule: its expression and time zone, paused or not, next and last run."""
    states = await runner.schedule_states(redis, schedules_for(catalog))
    return [
        CronSchedule(
            name=st.schedule.key,
            job=st.schedule.job,
            cron=st.schedule.cron,
            tz=st.schedule.tz,
            missed=st.schedule.missed,
            paused=st.paused,
            next_run=st.next_run,
            last_run=st.last_run,
        )
        for st in states
    ]


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: error_response("No schedule of that name.")
}


@router.post("/cron/{name}/pause", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def pause_schedule(name: ScheduleName, redis: RedisDep, catalog: CatalogDep) -> None:
    """Pause a schedule: its ticks enqueue nothing until it is resumed (on every worker)."""
    await runner.set_paused(redis, _find(catalog, name), True)


@router.post("/cron/{name}/resume", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def resume_schedule(name: ScheduleName, redis: RedisDep, catalog: CatalogDep) -> None:
    """Resume a paused schedule from its next tick."""
    await runner.set_paused(redis, _find(catalog, name), False)


@router.post("/cron/{name}/run", status_code=status.HTTP_202_ACCEPTED, responses=NOT_FOUND)
async def run_schedule_now(
    name: ScheduleName,
    request: Request,
    response: Response,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> JobView:
    """Enqueue the schedule's job now (its input as declared), outside its ticks."""
    schedule = _find(catalog, name)
    spec = catalog[schedule.job]
    enqueued = await runner.run_now(redis, schedule, spec, settings)
    response.headers["Location"] = job_location(request.scope, enqueued.job_id)
    return created_view(spec, enqueued)

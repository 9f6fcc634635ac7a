"""`POST /jobs/{id}/signals/{name}`: wake a job parked in `ctx.wait_for_signal(name)`."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, status

from jobs.declare.steps import NAME
from jobs.enqueue.signals import SignalTooLarge, send_signal
from jobs.layout.ids import JOB_ID
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.errors import JobStateConflict, PayloadTooLarge
from service.schemas import BODY_ERRORS, ERROR_RESPONSES, JobView
from service.views import load_view

router = APIRouter(tags=["jobs"], responses={**ERROR_RESPONSES, **BODY_ERRORS})

JobId = Annotated[str, Path(min_length=1, max_length=265, pattern=JOB_ID.pattern)]
SignalName = Annotated[
    str, Path(pattern=f"^{NAME.pattern}$", description="The name the job waits for.")
]


@router.post("/jobs/{job_id}/signals/{name}", status_code=status.HTTP_202_ACCEPTED)
async def signal_job(
    job_id: JobId,
    name: SignalName,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    body: Annotated[Any, Body(description="Any JSON: `wait_for_signal` returns it.")] = None,
) -> JobView:
    """Deliver a signal to a job parked in `ctx.wait_for_signal(name)`: the job is due at once
    and gets the body. 409 if it is not waiting for that signal (running, queued, final, or
    parked for another)."""
    await load_view(redis, catalog, settings, job_id)  # 404 for an unknown job
    try:
        outcome, waiting_for = await send_signal(redis, job_id, name, body)
    except SignalTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    if outcome != "delivered":
        view = await load_view(redis, catalog, settings, job_id)
        raise JobStateConflict(
            f"job {job_id} is not waiting for signal {name!r}",
            details={"status": view.status, "waiting_for_signal": waiting_for or None},
        )
    return await load_view(redis, catalog, settings, job_id)

"""`/schedules`: cron and interval schedules made, changed, paused and deleted at runtime
(`jobs.cron.stored`), listed beside those declared in code (read-only here)."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response, status

from jobs.cron import stored
from jobs.cron.schedules import Schedule, schedules_for
from jobs.layout import keys
from service.deps import CatalogDep, RedisDep
from service.errors import InvalidInput, InvalidRequest, ScheduleInCode, ScheduleNotFound
from service.schemas import AUTH_ERRORS, BODY_ERRORS, STORE_ERRORS, error_response

router = APIRouter(tags=["schedules"], responses={**AUTH_ERRORS, **STORE_ERRORS})

Name = Annotated[
    str, Path(pattern=stored.NAME_PATTERN, description="The schedule's name: `[A-Za-z0-9_.:-]`.")
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: error_response("No schedule of that name.")
}
IN_CODE: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: error_response("A schedule declared in code: read-only here.")
}


class ScheduleView(stored.ScheduleDefinition):
    name: str
    source: Literal["code", "api"]
    """"code": declared with `schedule(...)` in a job module (read-only here); "api": made
    with `PUT /schedules/{name}`."""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    revision: int | None = None
    """One more on each change (API schedules)."""
    next_run: datetime
    last_run: datetime | None
    """When its last tick (or run-now) was enqueued."""
    last_job_id: str | None
    """The job its last tick enqueued."""


async def _views(redis: RedisDep, catalog: CatalogDep) -> list[ScheduleView]:
    code = schedules_for(catalog)
    _, found = await stored.load_all(redis)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.CRON_LAST)
        pipe.hgetall(keys.CRON_LAST_JOB)
        pipe.smembers(keys.CRON_PAUSED)
        last_raw, jobs_raw, paused_raw = await pipe.execute()
    last = {k.decode(): int(v) for k, v in last_raw.items()}
    last_job = {k.decode(): v.decode() for k, v in jobs_raw.items()}
    paused = {p.decode() for p in paused_raw}
    now = datetime.now(UTC)

    def view(s: Schedule, definition: stored.StoredSchedule | None) -> ScheduleView:
        fields: dict[str, Any] = (
            definition.model_dump()
            if definition is not None
            else {"job": s.job, "input": s.payload, "tz": s.tz, "missed": s.missed}
            | {"cron": None if s.every else s.cron, "every": s.every, "overlap": s.overlap}
            | {"paused": s.key in paused}
        )
        ran = last.get(s.key)
        return ScheduleView(
            **fields,
            name=s.key,
            source="api" if definition is not None else "code",
            next_run=s.next_after(now),
            last_run=None if ran is None else datetime.fromtimestamp(ran / 1000, UTC),
            last_job_id=last_job.get(s.key),
        )

    views = [view(s, None) for s in code]
    for name, (_, definition) in sorted(found.items()):
        try:
            views.append(view(definition.schedule(name), definition))
        except ValueError:  # stored by a later release, in a form this one cannot read
            continue
    return views


@router.get("/schedules")
async def list_all_schedules(redis: RedisDep, catalog: CatalogDep) -> list[ScheduleView]:
    """Every schedule, those declared in code first (read-only here), then those made over the
    API: when it runs, paused or not, next and last run."""
    return await _views(redis, catalog)


@router.get("/schedules/{name}", responses=NOT_FOUND)
async def get_schedule(name: Name, redis: RedisDep, catalog: CatalogDep) -> ScheduleView:
    for view in await _views(redis, catalog):
        if view.name == name:
            return view
    raise ScheduleNotFound(f"no schedule named {name!r}")


@router.put(
    "/schedules/{name}",
    responses={
        **IN_CODE,
        **BODY_ERRORS,
        status.HTTP_201_CREATED: {"description": "Created.", "model": ScheduleView},
    },
)
async def put_schedule(
    name: Name,
    definition: stored.ScheduleDefinition,
    response: Response,
    redis: RedisDep,
    catalog: CatalogDep,
) -> ScheduleView:
    """Create or replace a schedule: its job and input (checked as an enqueue's are), and
    `cron` or `every`. Every worker runs it from its next tick, within about a second; each
    tick is enqueued once however many workers there are. 201 when new, 200 when replaced."""
    if any(s.key == name for s in schedules_for(catalog)):
        raise ScheduleInCode(f"schedule {name!r} is declared in code: change it there")
    try:
        stored.check(name, definition, catalog)
        _, created = await stored.put(redis, name, definition)
    except stored.ScheduleRefused as refused:
        error = InvalidInput if refused.field == "input" else InvalidRequest
        raise error(str(refused), details=refused.details or {"field": refused.field}) from None
    if created:
        response.status_code = status.HTTP_201_CREATED
    return await get_schedule(name, redis, catalog)


@router.delete(
    "/schedules/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, **IN_CODE},
)
async def delete_schedule(name: Name, redis: RedisDep, catalog: CatalogDep) -> None:
    """Delete a schedule made over the API: no tick of it is enqueued from then on (a tick
    already enqueued runs)."""
    if any(s.key == name for s in schedules_for(catalog)):
        raise ScheduleInCode(f"schedule {name!r} is declared in code: remove it there")
    if not await stored.delete(redis, name):
        raise ScheduleNotFound(f"no schedule named {name!r}")

"""Queues: depths and workers for operators and the dashboard; pause and resume."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from jobs.reading import queues
from jobs.settings import Settings
from service.declared import declared_queues, known_queue
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.schemas import AUTH_ERRORS, STORE_ERRORS, QueueStats, Responses, error_response

router = APIRouter(tags=["queues"], responses={**AUTH_ERRORS, **STORE_ERRORS})

QueueName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$", description="A queue name.")]


async def queue_stats(redis: RedisDep, catalog: CatalogDep, settings: Settings) -> list[QueueStats]:
    return await queues.all_queue_figures(redis, declared_queues(catalog, settings))


@router.get("/queues")
async def list_queues(
    redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> list[QueueStats]:
    """Every queue that holds jobs, is paused or is served by a live worker: queued (ready
    now), deferred, in progress, failed, paused, the oldest waiting job's age, workers."""
    return await queue_stats(redis, catalog, settings)


_NOT_FOUND: Responses = {
    status.HTTP_404_NOT_FOUND: error_response("No queue of that name is declared.")
}


@router.post("/queues/{name}/pause", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
async def pause_queue(
    name: QueueName, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> None:
    """Pause a queue: it keeps accepting jobs and starts none (running ones finish). 404 for
    a queue nothing declares."""
    await queues.pause(redis, await known_queue(name, redis, catalog, settings))


@router.post("/queues/{name}/resume", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
async def resume_queue(
    name: QueueName, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> None:
    """Resume a paused queue: idle workers start its jobs at once. 404 for a queue nothing
    declares."""
    await queues.resume(redis, await known_queue(name, redis, catalog, settings))

"""Queues: depths and workers for operators and the dashboard; pause and resume; the
weights of their fair keys (`jobs.flow.fair_shares`)."""

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import Field

from jobs.declare.models import Model
from jobs.flow import fair_shares
from jobs.flow.limits import KEY_VALUE_MAX
from jobs.reading import queues
from jobs.settings import Settings
from service.declared import declared_queues, known_queue
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.schemas import (
    AUTH_ERRORS,
    BODY_ERRORS,
    STORE_ERRORS,
    QueueStats,
    Responses,
    error_response,
)

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


FairKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=KEY_VALUE_MAX,
        description="A fair key value (e.g. a tenant), as `@job(fair_key=...)`'s field or the "
        "`fair_key` enqueue option gives it.",
    ),
]


class FairWeight(Model):
    """How many turns a fair key gets per round, against 1 for a key without a weight."""

    weight: int = Field(ge=1, le=fair_shares.MAX_WEIGHT)


class FairWeights(Model):
    weights: dict[str, int]
    """Key value -> weight, for the keys whose weight is not 1 (up to 1,000)."""


@router.put("/queues/{name}/fair-weights/{key}", responses={**_NOT_FOUND, **BODY_ERRORS})
async def put_fair_weight(
    name: QueueName,
    key: FairKey,
    body: FairWeight,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> FairWeight:
    """Set a fair key's weight on a queue: within a priority, a key of weight w gets w turns
    for another key's one (from the next claim on). 1 resets it. 404 for a queue nothing
    declares."""
    queue = await known_queue(name, redis, catalog, settings)
    await fair_shares.set_weight(redis, queue, key, body.weight)
    return body


@router.get("/queues/{name}/fair-weights", responses=_NOT_FOUND)
async def get_fair_weights(
    name: QueueName, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> FairWeights:
    """The weights set on a queue's fair keys (a key not listed has 1). 404 for a queue
    nothing declares."""
    queue = await known_queue(name, redis, catalog, settings)
    return FairWeights(weights=await fair_shares.weights(redis, queue))

"""Jobs for the tracing tests (loaded through `JOB_MODULES`)."""

from pydantic import BaseModel

from jobs.client import JobClient
from jobs.declare.context import JobContext
from jobs.declare.registry import job


class Spawn(BaseModel):
    message: str = "child"


class Spawned(BaseModel):
    child_id: str


@job()
async def spawn_child(ctx: JobContext, payload: Spawn) -> Spawned:
    """Enqueues a `ping` from inside a job, the way a job's own code would."""
    client = JobClient(ctx.redis, ctx.settings)
    handle = await client.enqueue("ping", {"message": payload.message})
    return Spawned(child_id=handle.id)

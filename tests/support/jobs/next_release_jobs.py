"""A job only "the next release" declares: end-to-end rolling-deploy tests start an old worker
without this module (it does not know the job) and a new one with it
(`JOB_MODULES=tests.support.jobs.probe_jobs,tests.support.jobs.next_release_jobs`)."""

from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.registry import job

MODULES = "tests.support.jobs.probe_jobs,tests.support.jobs.next_release_jobs"
"""`JOB_MODULES` of a worker of the next release."""


class Shipped(BaseModel):
    feature: str


class ShippedBy(BaseModel):
    feature: str
    tries: int
    worker: str


@job(max_tries=3)
async def added_in_the_next_release(ctx: JobContext, payload: Shipped) -> ShippedBy:
    return ShippedBy(feature=payload.feature, tries=ctx.try_, worker=ctx.worker_id)

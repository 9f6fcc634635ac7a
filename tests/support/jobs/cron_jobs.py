"""A cron schedule that ticks every second, for end-to-end workers only.

Loaded through `JOB_MODULES=tests.support.jobs.cron_jobs` by worker and web processes; never
import it in the test process (its schedule would run in every in-process worker).
"""

from pydantic import BaseModel

from jobs.cron.schedules import schedule
from jobs.declare.context import JobContext
from jobs.declare.registry import job

TICKS = "test:cron:ticks"
"""Set of the job ids (`cron:count_cron_tick:{tick ms}`) that ran."""


def runs_key(job_id: str) -> str:
    return f"test:cron:runs:{job_id}"


class NoInput(BaseModel):
    pass


class Ticked(BaseModel):
    runs: int


@job(max_tries=1)
async def count_cron_tick(ctx: JobContext, payload: NoInput) -> Ticked:
    """Record that this tick ran (and how often)."""
    runs = await ctx.redis.incr(runs_key(ctx.job_id))
    await ctx.redis.sadd(TICKS, ctx.job_id)  # type: ignore[misc]
    return Ticked(runs=runs)


schedule("count_cron_tick", "* * * * * *")  # every second

"""The job of the soak run (`tests/chaos/soak.py`), loaded by its workers through `JOB_MODULES`.

Every path a long-lived service keeps taking: most tries complete, one in 20 fails once and is
retried, one in 50 fails for good (a failed record, kept `FAILED_TTL_S`).
"""

import asyncio
import random

from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.registry import job


class SoakWork(BaseModel):
    n: int


class SoakDone(BaseModel):
    n: int
    try_: int


class SoakFailure(Exception):
    pass


@job(max_tries=2, backoff_base=0.05, backoff_max=0.2)
async def soak_work(ctx: JobContext, payload: SoakWork) -> SoakDone:
    await asyncio.sleep(random.uniform(0.0, 0.02))
    if payload.n % 50 == 0 or (payload.n % 20 == 0 and ctx.try_ == 1):
        raise SoakFailure(f"soak job {payload.n} fails on try {ctx.try_}")
    return SoakDone(n=payload.n, try_=ctx.try_)

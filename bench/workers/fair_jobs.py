"""Bench-only jobs with a fair share per tenant (`bench.fair_cost`), loaded with
`JOB_MODULES=bench.workers.ours_jobs,bench.workers.fair_jobs`."""

from bench import tally
from bench.workers.ours_jobs import NoopInput, NoopOutput
from jobs.declare.context import JobContext
from jobs.declare.registry import job


class TenantInput(NoopInput):
    tenant: int


@job(name="bench_noop_fair", fair_key="tenant", description="bench_noop with a fair key.")
async def bench_noop_fair(ctx: JobContext, payload: TenantInput) -> NoopOutput:
    """The no-op job served in turn with other tenants': what fair shares cost."""
    await tally.record(payload.idx, payload.key, payload.stamp)
    return NoopOutput()

"""`generate_report`: summary statistics over a list of figures."""

import statistics

from pydantic import Field

from jobs.declare.context import JobContext
from jobs.declare.models import Model
from jobs.declare.registry import job


class ReportRequest(Model):
    title: str = Field(max_length=200)
    values: list[float] = Field(min_length=1, max_length=100_000)


class Report(Model):
    title: str
    count: int
    total: float
    mean: float
    median: float
    minimum: float
    maximum: float
    stdev: float


@job(timeout=120)
async def generate_report(ctx: JobContext, payload: ReportRequest) -> Report:
    """Summarise a series of numbers (count, total, mean, median, min, max, stdev)."""
    v = payload.values
    return Report(
        title=payload.title,
        count=len(v),
        total=sum(v),
        mean=statistics.fmean(v),
        median=statistics.median(v),
        minimum=min(v),
        maximum=max(v),
        stdev=statistics.pstdev(v),
    )

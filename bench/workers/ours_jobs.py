"""Bench-only job for our worker, loaded with `JOB_MODULES=bench.workers.ours_jobs`."""

from pydantic import BaseModel

from bench import tally
from jobs.declare.context import JobContext
from jobs.declare.registry import job


class NoopInput(BaseModel):
    idx: int
    key: str
    stamp: bool


class NoopOutput(BaseModel):
    pass


@job(name="bench_noop", description="Benchmark no-op: records that it ran.")
async def bench_noop(ctx: JobContext, payload: NoopInput) -> NoopOutput:
    await tally.record(payload.idx, payload.key, payload.stamp)
    return NoopOutput()


class PassInput(BaseModel):
    idx: int


@job(name="bench_pass", description="Benchmark job that does nothing: the worker's own cost.")
async def bench_pass(ctx: JobContext, payload: PassInput) -> NoopOutput:
    return NoopOutput()


@job(name="bench_pass_thread", description="Does nothing, in a thread: a def job's own cost.")
def bench_pass_thread(idx: int) -> None:
    return None


@job(
    name="bench_pass_process",
    run_in="process",
    description="Does nothing, in a child process: a run_in='process' job's own cost.",
)
def bench_pass_process(idx: int) -> None:
    return None


STEPS = 3
"""Steps per `bench_steps` job."""


async def _step_value(i: int) -> dict[str, int]:
    return {"i": i}


@job(name="bench_steps", description="Does nothing in 3 durable steps: what a step costs.")
async def bench_steps(ctx: JobContext, payload: PassInput) -> NoopOutput:
    for i in range(STEPS):
        await ctx.step(f"s{i}", _step_value, i)
    return NoopOutput()


@job(name="bench_sleep", description="One durable sleep of 0 s, then done: what a resume costs.")
async def bench_sleep(ctx: JobContext, payload: PassInput) -> NoopOutput:
    await ctx.sleep(0)
    return NoopOutput()

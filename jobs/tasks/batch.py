"""`process_batch`: handle items one by one, reporting progress after each."""

import asyncio
import hashlib

from pydantic import Field

from jobs.declare.context import JobContext
from jobs.declare.models import Model
from jobs.declare.registry import job


class Batch(Model):
    items: list[str] = Field(min_length=1, max_length=10_000)
    delay_s: float = Field(default=0, ge=0, le=10)
    """Pause per item (simulates slow work; lets clients watch progress)."""


class BatchResult(Model):
    processed: int
    digests: dict[str, str]


@job(timeout=3600)
async def process_batch(ctx: JobContext, payload: Batch) -> BatchResult:
    """Digest each item (SHA-256), reporting progress after every one."""
    digests: dict[str, str] = {}
    total = len(payload.items)
    for n, item in enumerate(payload.items, 1):
        if payload.delay_s:
            await asyncio.sleep(payload.delay_s)
        digests[item] = hashlib.sha256(item.encode()).hexdigest()
        await ctx.progress(n / total, f"{n}/{total} items")
    return BatchResult(processed=total, digests=digests)

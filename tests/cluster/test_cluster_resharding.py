"""A queue's slot moves to another primary under load (keys migrated a few at a time, as
`valkey-cli --cluster reshard` does): clients meet ASK and TRYAGAIN while the slot is half
moved, then MOVED; every job completes."""

import asyncio
import time

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_jobs
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster, slot_of
from tests.support.load import SteadyLoad
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

QUEUES = ("a", "b", "c")
MOVING = "b"
JOBS = 300
MAX = {"ping": 25}


async def test_a_queue_slot_moving_under_load_loses_no_job(
    cluster: ValkeyCluster, processes: ClusterProcesses, redis: RedisClient, settings: Settings
) -> None:
    serve = {"WORKER_QUEUES": ",".join(QUEUES), "WORKER_CONCURRENCY": "50"}
    await processes.worker(**serve)
    await processes.worker(**serve)
    url = await processes.web()
    slot = slot_of(keys.queue(MOVING).due)
    source = await cluster.primary_port_of(keys.queue(MOVING).due)
    target = next(p for p in await cluster.topology() if p != source)
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        load = SteadyLoad(redis, api, settings, QUEUES, JOBS, 200)
        producing = asyncio.create_task(load.run())
        await asyncio.wait_for(load.sent.wait(), 30)
        began = time.monotonic()
        moved = await cluster.migrate_slot(slot, target, keys_per_step=10)
        migration_s = time.monotonic() - began
        await asyncio.wait_for(producing, 60)

        async def all_final() -> bool:
            records = await load_jobs(redis, load.ids, MAX)
            return all(r is not None and r.status.is_final for r in records)

        try:
            await eventually(all_final, timeout_s=30, interval_s=0.2)
        finally:
            records = await load_jobs(redis, load.ids, MAX)
            errors = await cluster.command(source, "INFO", "errorstats")
            report(
                "cluster slot migration",
                jobs=JOBS,
                complete=sum(1 for r in records if r and r.status is JobStatus.complete),
                not_final=[(r.id, r.status.value) for r in records if r and not r.status.is_final][
                    :5
                ],
                missing=sum(1 for r in records if r is None),
                keys_moved=moved,
                migration_s=f"{migration_s:.2f}",
                enqueue_retries=load.retries,
                source_errors=",".join(
                    f"{k.removeprefix('errorstat_')}:{v['count']}" for k, v in errors.items()
                ),
            )
    try:
        assert await cluster.primary_port_of(keys.queue(MOVING).due) == target
        assert all(r is not None and r.status is JobStatus.complete for r in records)
        assert "Traceback" not in processes.log_text("worker")
        assert "Traceback" not in processes.log_text("web")
    finally:
        processes.kill_all()
        await cluster.flush()
        await cluster.migrate_slot(slot, source)  # the other tests expect three shards

"""Cron with two real worker processes: every tick of an every-second schedule runs once."""

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from tests.support.jobs.cron_jobs import TICKS, runs_key
from tests.support.processes import Processes, exit_code, sigterm
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
CRON_MODULES = "tests.support.jobs.probe_jobs,tests.support.jobs.cron_jobs"
WANTED_TICKS = 8


def _tick_s(job_id: str) -> int:
    prefix = "cron:count_cron_tick:"
    assert job_id.startswith(prefix), job_id
    tick_ms = int(job_id.removeprefix(prefix))
    assert tick_ms % 1000 == 0
    return tick_ms // 1000


async def test_two_workers_run_each_tick_exactly_once(
    processes: Processes, redis: RedisClient
) -> None:
    workers = [
        await processes.worker(JOB_MODULES=CRON_MODULES, SHUTDOWN_GRACE_S="3"),
        await processes.worker(JOB_MODULES=CRON_MODULES, SHUTDOWN_GRACE_S="3"),
    ]

    async def enough_ticks() -> bool:
        return await redis.scard(TICKS) >= WANTED_TICKS  # type: ignore[misc,no-any-return]

    await eventually(enough_ticks, timeout_s=14, interval_s=0.1)
    for worker in workers:
        sigterm(worker.process)
    assert [await exit_code(w.process) for w in workers] == [0, 0]

    ran = sorted(m.decode() for m in await redis.smembers(TICKS))  # type: ignore[misc]
    runs = await asyncio.gather(*(redis.get(runs_key(job_id)) for job_id in ran))
    assert runs == [b"1"] * len(ran)  # no tick ran twice
    seconds = [_tick_s(job_id) for job_id in ran]
    assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))  # none skipped
    results = await asyncio.gather(*(redis.get(keys.of_job(j).result(j)) for j in ran))
    assert all(results)


async def test_job_types_show_the_cron_schedule_and_next_run(processes: Processes) -> None:
    url = await processes.web(JOB_MODULES=CRON_MODULES)
    before = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        types = {t["name"]: t for t in (await client.get("/job-types")).json()}
    cron = types["count_cron_tick"]["cron"]
    assert [c["schedule"] for c in cron] == ["* * * * * * (UTC)"]
    next_run = datetime.fromisoformat(cron[0]["next_run"])
    assert next_run > before and next_run.microsecond == 0
    shipped = types["heartbeat_report"]["cron"]
    assert [c["schedule"] for c in shipped] == ["* * * * * (UTC)"]
    assert datetime.fromisoformat(shipped[0]["next_run"]).second == 0
    assert types["ping"]["cron"] == []


async def test_schedules_are_listed_paused_resumed_and_run_now_over_http(
    processes: Processes, redis: RedisClient
) -> None:
    url = await processes.web(JOB_MODULES=CRON_MODULES)
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        listed = {s["name"]: s for s in (await client.get("/cron")).json()}
        tick = listed["count_cron_tick"]
        assert (tick["cron"], tick["tz"], tick["missed"], tick["paused"]) == (
            "* * * * * *",
            "UTC",
            "skip",
            False,
        )
        assert tick["last_run"] is None
        assert (await client.post("/cron/count_cron_tick/pause")).status_code == 204
        paused = {s["name"]: s for s in (await client.get("/cron")).json()}
        assert paused["count_cron_tick"]["paused"] is True
        ran = await client.post("/cron/count_cron_tick/run")
        assert ran.status_code == 202 and ran.json()["name"] == "count_cron_tick"
        assert ran.headers["location"] == f"/jobs/{ran.json()['id']}"
        after = {s["name"]: s for s in (await client.get("/cron")).json()}
        assert after["count_cron_tick"]["last_run"] is not None
        assert (await client.post("/cron/count_cron_tick/resume")).status_code == 204
        assert (await client.post("/cron/nope/pause")).status_code == 404
    assert await redis.smembers("jobsvc:cron:paused") == set()  # type: ignore[misc]

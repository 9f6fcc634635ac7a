"""Fair shares end to end: a real web process and a real worker process, over HTTP. The
README's "Fair shares" module and commands run as written; two tenants' jobs complete
interleaved, not one backlog after the other."""

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from tests.support.processes import Processes
from tests.support.readme import code_blocks
from tests.support.waiting import eventually
from tests.support.workers import starts

pytestmark = pytest.mark.e2e

ENV = {
    "JOB_MODULES": "tests.support.jobs.sample_jobs",
    "WORKER_CONCURRENCY": "1",
    "CLAIM_BATCH": "1",
    "CRON_ENABLED": "false",
    "HOUSEKEEPING": "false",
}
QUEUE = keys.DEFAULT_QUEUE


async def _bash(command: str, url: str) -> str:
    command = command.replace("localhost:8000", url.removeprefix("http://"))
    done = await asyncio.to_thread(
        subprocess.run, ["bash", "-c", command], capture_output=True, text=True, check=True
    )
    return done.stdout


def _documents(text: str) -> list[dict[str, object]]:
    """The JSON answers curl printed one after another (no newline between them)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
        while at < len(text) and text[at].isspace():
            at += 1
    return found


async def test_the_readme_fair_share_commands_run_as_written(processes: Processes) -> None:
    (commands,) = code_blocks("Fair shares", "bash")
    url = await processes.web(**ENV)
    await processes.worker(**ENV)
    out = _documents(await _bash(commands, url))
    assert out[0] == {"weight": 3}
    assert out[1] == {"weights": {"acme": 3}}
    assert len(out) == 3
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        view = (await client.get(f"/jobs/{out[2]['id']}", params={"wait": 20})).json()
    assert view["status"] == "complete" and view["result"]["message"] == "hi"


async def test_two_tenants_complete_interleaved_with_a_real_worker(
    processes: Processes, redis: RedisClient
) -> None:
    url = await processes.web(**ENV)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await client.post(f"/queues/{QUEUE}/pause")).status_code == 204
        for tenant, count in (("A", 40), ("B", 10)):
            answer = await client.post(
                "/jobs/record_tenant/bulk",
                json=[{"label": f"{tenant}{n}", "tenant": tenant} for n in range(count)],
            )
            assert answer.status_code == 202, answer.text
        figures = {q["name"]: q for q in (await client.get("/queues")).json()}[QUEUE]
        assert (figures["queued"], figures["fair_keys"]) == (50, 2)
        await processes.worker(**ENV)
        assert (await client.post(f"/queues/{QUEUE}/resume")).status_code == 204

        async def all_ran() -> bool:
            return len(await starts(redis)) >= 50

        await eventually(all_ran, timeout_s=60)
    order = await starts(redis)
    # Served in turn: A, B, A, B, ... until B's ten are done, then A's backlog.
    assert order[:20] == [x for n in range(10) for x in (f"A{n}", f"B{n}")]
    assert order[20:] == [f"A{n}" for n in range(10, 40)]


async def test_the_readme_fair_share_module_serves_a_small_tenant_within_a_round(
    processes: Processes, tmp_path: Path
) -> None:
    (module,) = code_blocks("Fair shares", "python")
    (tmp_path / "readme_fair.py").write_text(module)
    env = {**ENV, "JOB_MODULES": "readme_fair", "PYTHONPATH": str(tmp_path)}
    url = await processes.web(**env)
    await processes.worker(**env)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await client.post(f"/queues/{QUEUE}/pause")).status_code == 204
        big = await client.post(
            "/jobs/monthly_report/bulk",
            json=[{"tenant": "big", "month": f"2026-{m:02}"} for m in range(1, 13)],
        )
        small = await client.post("/jobs/monthly_report", json={"tenant": "small", "month": "x"})
        assert big.status_code == 202 and small.status_code == 202, (big.text, small.text)
        assert (await client.post(f"/queues/{QUEUE}/resume")).status_code == 204
        ids = [*big.json()["ids"], small.json()["id"]]

        async def views() -> list[dict[str, object]]:
            return [(await client.get(f"/jobs/{i}")).json() for i in ids]

        async def all_complete() -> bool:
            return all(v["status"] == "complete" for v in await views())

        await eventually(all_complete, timeout_s=60)
        done = await views()
    assert done[-1]["result"] == "small: x"
    finished = sorted(str(v["finished_at"]) for v in done[:-1])
    # The small tenant's one job waited one turn, not the big tenant's twelve.
    assert str(done[-1]["finished_at"]) <= finished[1]

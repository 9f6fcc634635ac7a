"""`GET /jobs/{id}/events` read live from a real web process while a real worker runs the job."""

import json
from typing import Any

import httpx
import pytest

from jobs.layout.connection import RedisClient
from tests.support.processes import Processes

pytestmark = pytest.mark.e2e


async def test_event_stream_sends_a_view_per_change_and_closes_when_final(
    processes: Processes, redis: RedisClient
) -> None:
    url = await processes.web()
    await processes.worker()
    views: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=15) as client:
        gate = {"gate": "test:gate:sse", "fraction": 0.3, "message": "a third"}
        job_id = (await client.post("/jobs/wait_for_gate", json=gate)).json()["id"]
        async with client.stream("GET", f"/jobs/{job_id}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                views.append(json.loads(line.removeprefix("data: ")))
                if views[-1]["progress"] and views[-1]["status"] == "in_progress":
                    # Seen live, before the job can finish: now let it finish.
                    await redis.set("test:gate:sse", "1")
            # The loop ends because the server closed the stream at the final state.
    assert views[0]["id"] == job_id and views[0]["status"] in ("queued", "in_progress")
    running = [v for v in views if v["status"] == "in_progress" and v["progress"]]
    assert running[0]["progress"] == {"fraction": 0.3, "message": "a third"}
    assert views[-1]["status"] == "complete" and views[-1]["result"]["tries"] == 1
    assert all(v["status"] != "complete" for v in views[:-1])
    changes = [json.dumps([v["status"], v["tries"], v["progress"]]) for v in views]
    assert len(changes) == len(set(changes))  # one view per change, no repeats

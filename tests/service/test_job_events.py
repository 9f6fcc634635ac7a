"""`GET /jobs/{id}/events` (in process): JobViews as server-sent events, closed at a final state.

The in-process transport delivers the body when the stream ends, so these tests check what a
finished stream holds; `tests/e2e/test_events_stream.py` reads one live.
"""

import itertools
import json
from typing import Any

import httpx

from jobs.worker.loop import Worker
from tests.support.workers import RunWorker


def _events(body: str) -> list[dict[str, Any]]:
    views = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        assert lines.get("event") == "job", block
        views.append(json.loads(lines["data"]))
    return views


async def test_stream_of_a_finished_job_is_its_view_then_the_end(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    job_id = (await client.post("/jobs/ping", json={"message": "hi"})).json()["id"]
    await run_worker()
    response = await client.get(f"/jobs/{job_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    views = _events(response.text)
    assert len(views) == 1 and views[0]["status"] == "complete"
    assert views[0]["result"]["message"] == "hi"


async def test_stream_follows_a_batch_to_its_end(
    client: httpx.AsyncClient, background_worker: Worker
) -> None:
    items = [str(n) for n in range(4)]
    created = await client.post("/jobs/process_batch", json={"items": items, "delay_s": 0.05})
    response = await client.get(f"/jobs/{created.json()['id']}/events")
    views = _events(response.text)
    assert views[0]["status"] in ("queued", "in_progress")
    assert views[-1]["status"] == "complete" and views[-1]["result"]["processed"] == 4
    assert all(v["status"] != "complete" for v in views[:-1])
    fractions = [v["progress"]["fraction"] for v in views if v["progress"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    keys = [(v["status"], v["tries"], v["progress"]) for v in views]
    assert all(a != b for a, b in itertools.pairwise(keys))  # one view per change


async def test_stream_of_an_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/jobs/nope/events")).status_code == 404

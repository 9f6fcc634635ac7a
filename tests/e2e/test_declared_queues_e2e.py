"""Issue 23's queue attacks, replayed against the real web process: no request creates a queue.

Before, `POST /queues/never-existed-42/pause` wrote a key with no TTL, each `resume` grew an
untrimmed wake list, three workflows naming distinct queues made 3,002 queues (after which
`/queues` took 231 ms instead of 2), and `GET /jobs/x@<random>` grew the web's cache. Now a
queue exists only if declared (`jobs.declare.queues`): Redis is measured before and after.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from tests.support.processes import Processes
from tests.support.queues import TEST_QUEUES
from tests.support.report import report

pytestmark = pytest.mark.e2e

ATTACK_QUEUES = 3000
MADE_UP_IDS = 2000


@pytest.fixture
async def http(processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    url = await processes.web(CRON_ENABLED="false", HOUSEKEEPING="false")
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


async def _footprint(redis: RedisClient) -> dict[str, int]:
    """What a made-up queue would add to: every key, the registry, the memory in use."""
    memory = await redis.info("memory")
    return {
        "keys": await redis.dbsize(),
        "registry": await redis.scard(keys.QUEUES),  # type: ignore[misc]
        "used_memory": int(memory["used_memory"]),
    }


def _unchanged(before: dict[str, int], after: dict[str, int], title: str) -> None:
    report(title, **{f"{k}_before": v for k, v in before.items()}, **after)
    assert after["keys"] == before["keys"], (before, after)
    assert after["registry"] == before["registry"], (before, after)
    # 3,000 queues' keys took megabytes; what is left is the server's own churn (client
    # buffers, the script cache), well under 1 MiB.
    grown = after["used_memory"] - before["used_memory"]
    assert grown < 1024 * 1024, (before, after)


def _made_up(n: int) -> list[str]:
    return [f"attack-{uuid.uuid4().hex[:12]}" for _ in range(n)]


async def _refused(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    return error


async def test_pause_and_resume_of_an_undeclared_queue_are_404_and_write_nothing(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    before = await _footprint(redis)
    for action in ("pause", "resume"):
        error = await _refused(
            await http.post(f"/queues/never-existed-42/{action}"), 404, "queue_not_found"
        )
        assert "arq:queue" in error["details"]["known"]
    q = keys.queue("never-existed-42")
    assert await redis.exists(q.paused, q.wake) == 0
    assert not await redis.sismember(keys.QUEUES, "never-existed-42")  # type: ignore[misc]
    _unchanged(before, await _footprint(redis), "pause/resume never-existed-42")
    # A declared queue still pauses and resumes.
    assert (await http.post("/queues/other/pause")).status_code == 204
    assert (await http.post("/queues/other/resume")).status_code == 204


async def test_resume_again_and_again_keeps_the_wake_list_short(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    for _ in range(200):  # no worker serves it: nobody pops the tokens
        assert (await http.post("/queues/other/resume")).status_code == 204
    tokens = await redis.llen(keys.queue("other").wake)  # type: ignore[misc]
    report("200 resumes", wake_tokens=tokens)
    assert 1 <= tokens <= 16


async def test_thousands_of_made_up_queues_are_refused_and_redis_does_not_grow(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    # The declared queues work (and register) first: what follows must add nothing.
    assert (await http.post("/jobs/ping", params={"queue": "other"}, json={})).status_code == 202
    before = await _footprint(redis)
    names = _made_up(ATTACK_QUEUES)
    singles, bulks, nodes = names[:500], names[500:1000], names[1000:]
    slots = asyncio.Semaphore(16)

    async def post(path: str, **kwargs: Any) -> httpx.Response:
        async with slots:
            return await http.post(path, **kwargs)

    answers = await asyncio.gather(
        *(post("/jobs/ping", params={"queue": n}, json={}) for n in singles),
        *(post("/jobs/ping/bulk", params={"queue": n}, json=[{}, {}]) for n in bulks),
    )
    for answer in answers:
        await _refused(answer, 422, "unknown_queue")
    # Three workflows whose nodes each name a queue of their own (the 3,002 queues).
    for part in range(3):
        chunk = nodes[part * 666 : (part + 1) * 666]
        body = {
            "nodes": {
                f"n{i}": {"job": "ping", "input": {}, "queue": q} for i, q in enumerate(chunk)
            }
        }
        error = await _refused(await http.post("/workflows", json=body), 422, "unknown_queue")
        assert error["details"]["field"] == "queue"
    batch = {"jobs": [{"job": "ping", "input": {}, "queue": q} for q in nodes[:100]]}
    await _refused(await http.post("/batches", json=batch), 422, "unknown_queue")
    _unchanged(before, await _footprint(redis), f"{ATTACK_QUEUES} made-up queues")
    listed = {q["name"] for q in (await http.get("/queues")).json()}
    assert listed <= {*TEST_QUEUES, keys.DEFAULT_QUEUE, "emails"}, listed - set(TEST_QUEUES)


async def test_ids_on_made_up_queues_are_404_and_touch_no_key(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    before = await _footprint(redis)
    slots = asyncio.Semaphore(32)

    async def get(path: str) -> httpx.Response:
        async with slots:
            return await http.get(path)

    # 2,000 here (a few ms each over real HTTP); 10,000 against the web's own code, with its
    # cache measured: tests/service/test_declared_queues.py.
    answers = await asyncio.gather(
        *(get(f"/jobs/x@{name}") for name in _made_up(MADE_UP_IDS)),
        get(f"/workflows/x@{_made_up(1)[0]}"),
        get(f"/jobs/x@{_made_up(1)[0]}/events"),
        get(f"/jobs?queue={_made_up(1)[0]}"),
    )
    for answer in answers[:MADE_UP_IDS]:
        await _refused(answer, 404, "job_not_found")
    await _refused(answers[MADE_UP_IDS], 404, "workflow_not_found")
    await _refused(answers[MADE_UP_IDS + 1], 404, "job_not_found")
    await _refused(answers[MADE_UP_IDS + 2], 404, "queue_not_found")
    _unchanged(before, await _footprint(redis), f"{MADE_UP_IDS} ids on made-up queues")

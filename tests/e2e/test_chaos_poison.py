"""Chaos: job definitions the worker cannot use, written the way stock ARQ (pickle) or a broken
producer would, among good jobs.

Each bad one fails alone and at once (`UndecodableJob`, `UnknownJob` with no grace for unknown
names, `InvalidInput`, never retryable), lands in the failed registry and reads as 200 over
HTTP; the good ones complete; the worker never dies and never unpickles anything.
"""

import pickle
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.jobs_api import JobsApi
from tests.support.processes import Processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


class _TouchOnUnpickle:
    """Unpickling this creates a file: proof that someone unpickled a job."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (Path.touch, (self.path,))


def _definition(function: str, payload: Any, now_ms: int) -> dict[str, Any]:
    return {"t": 1, "f": function, "a": [payload], "k": {}, "et": now_ms}


def _poison(marker: Path, now_ms: int) -> dict[str, tuple[bytes, str]]:
    """Kind -> (the bytes stored as its definition, the error type it must fail with)."""
    good = orjson.dumps(_definition("ping", {}, now_ms))
    stock_arq = _definition("ping", _TouchOnUnpickle(marker), now_ms)
    return {
        "pickled": (pickle.dumps(stock_arq), "UndecodableJob"),
        "truncated": (good[: len(good) // 2], "UndecodableJob"),
        "not-an-object": (orjson.dumps(["ping", {}]), "UndecodableJob"),
        "unknown": (orjson.dumps(_definition("no_such_job", {}, now_ms)), "UnknownJob"),
        "invalid": (orjson.dumps(_definition("ping", {"sleep_s": -1}, now_ms)), "InvalidInput"),
    }


async def test_poison_jobs_fail_alone_and_the_worker_survives(
    processes: Processes, redis: RedisClient, settings: Settings, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    now_ms = int(time.time() * 1000)
    poison = _poison(marker, now_ms)
    good: dict[str, bytes] = {}
    messages: dict[str, str] = {}
    bad: dict[str, tuple[bytes, str]] = {}
    kinds = list(poison)
    for i in range(50):  # one batch; equal scores claim in id order: bad ones among good
        if i % 5 == 2:
            kind = kinds[(i // 5) % len(kinds)]
            bad[f"mix-{i:02d}-{kind}"] = poison[kind]
        else:
            messages[f"mix-{i:02d}-good"] = f"good {i}"
            good[f"mix-{i:02d}-good"] = orjson.dumps(
                _definition("ping", {"message": f"good {i}"}, now_ms)
            )
    async with redis.pipeline(transaction=True) as pipe:
        for job_id, raw in [*good.items(), *((j, raw) for j, (raw, _) in bad.items())]:
            pipe.set(keys.of_job(job_id).job(job_id), raw)
            pipe.zadd(settings.queue_name, {job_id: now_ms})
        await pipe.execute()

    url = await processes.web()
    async with JobsApi(url) as api:
        # Readable before any worker touched them.
        for job_id in [*good, *bad]:
            response = await api.get(job_id)
            assert response.status_code == 200, (job_id, response.status_code, response.text)
            assert response.json()["id"] == job_id

        # No grace for unknown names: fail them at once, not after the put-backs that give a
        # rolling deploy's new workers time to take them (tests/e2e/test_rolling_deploy.py).
        worker = await processes.worker(UNKNOWN_JOB_GRACE_S="0")

        async def all_settled() -> bool:
            assert worker.process.poll() is None, "a poison job killed the worker"
            views = await api.views([*good, *bad])
            return all(v["status"] in ("complete", "failed") for v in views.values())

        await eventually(all_settled, timeout_s=20, interval_s=0.1)
        views = await api.views([*good, *bad])
        for job_id in good:
            assert views[job_id]["status"] == "complete", views[job_id]
            assert views[job_id]["result"]["message"] == messages[job_id]
        for job_id, (_, error_type) in bad.items():
            view = views[job_id]
            assert view["status"] == "failed", view
            assert view["error"]["type"] == error_type, view
            assert view["error"]["retryable"] is False, view
            assert await redis.zscore(keys.of_job(job_id).failed, job_id) is not None, job_id

        # Still serving: a job enqueued now runs.
        after = await enqueue(redis, "ping", {"message": "after"}, settings=settings)

        async def after_done() -> bool:
            return bool((await api.view(after.job_id))["status"] == "complete")

        await eventually(after_done)
    assert worker.process.poll() is None
    assert not marker.exists(), "a job definition was unpickled"

"""Encryption at rest with real processes: nothing of a job's data reaches Redis, the logs or the
metrics in clear; a key rotation keeps every record readable; a worker without the key names
it and rewrites nothing; a malformed ENCRYPTION_KEYS stops the start."""

import asyncio
import json
import os
import sys
from typing import Any

import orjson
import pytest
from cryptography.fernet import Fernet

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.encryption import Keyring
from tests.support.jobs_api import JobsApi
from tests.support.processes import BASE_ENV, ROOT, Processes, exit_code
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
ID_A, ID_B = Keyring.parse(KEY_A).primary, Keyring.parse(KEY_B).primary
JOBS = {"JOB_MODULES": f"{BASE_ENV['JOB_MODULES']},tests.support.jobs.secret_jobs"}
MARKER = "zq-marker-7f3e91"


def env(keys_: str | None) -> dict[str, str]:
    return {**JOBS, "ENCRYPTION_KEYS": keys_ or ""}


async def _values(redis: RedisClient, raw_key: bytes) -> list[bytes]:
    """Every value stored under `key`, whatever its type (hash fields and zset members too)."""
    key = raw_key.decode()
    kind = (await redis.type(key)).decode()
    if kind == "string":
        return [await redis.get(key) or b""]
    if kind == "hash":
        h: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc]
        return [*h, *h.values()]
    if kind == "list":
        return list(await redis.lrange(key, 0, -1))  # type: ignore[misc]
    if kind == "set":
        return list(await redis.smembers(key))  # type: ignore[misc]
    if kind == "zset":
        return [member for member, _ in await redis.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        entries = await redis.xrange(key)
        return [part for _, fields in entries for pair in fields.items() for part in pair]
    assert kind == "none", f"{key!r}: a {kind} the scan cannot read"  # expired meanwhile
    return []


async def found_in_redis(redis: RedisClient, text: str) -> list[str]:
    """Where `text` occurs in Redis: key names and every value of every key (SCAN)."""
    needle, where = text.encode(), []
    async for key in redis.scan_iter(count=1000):
        if needle in key:
            where.append(f"key name {key!r}")
        where += [f"{key!r}" for value in await _values(redis, key) if needle in value]
    return where


async def _final(api: JobsApi, job_id: str, *statuses: str) -> dict[str, Any]:
    async def done() -> bool:
        return bool((await api.view(job_id))["status"] in statuses)

    await eventually(done, timeout_s=30)
    return await api.view(job_id)


async def _enqueue(api: JobsApi, name: str, body: dict[str, Any], **headers: str) -> str:
    created = await api.client.post(f"/jobs/{name}", json=body, headers=headers)
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


async def test_no_plaintext_in_redis_logs_or_metrics_while_the_api_shows_it(
    processes: Processes, redis: RedisClient
) -> None:
    url = await processes.web(**env(KEY_A))
    await processes.worker(**env(KEY_A))
    secret = {"text": MARKER, "tenant": f"tenant-{MARKER}"}
    async with JobsApi(url) as api:
        echo = await _enqueue(
            api, "secret_echo", {**secret, "fail_first": True}, **{"Idempotency-Key": MARKER}
        )
        failed = await _enqueue(api, "secret_fail", secret)
        retrying = await _enqueue(api, "secret_retry_later", secret)
        waiting = await _enqueue(api, "secret_wait", secret)
        await _final(api, waiting, "waiting")
        signalled = await api.client.post(f"/jobs/{waiting}/signals/go", json={"note": MARKER})
        assert signalled.status_code == 202, signalled.text

        echoed = await _final(api, echo, "complete", "failed")
        assert echoed["status"] == "complete" and echoed["tries"] == 2, echoed
        assert echoed["input"]["text"] == MARKER and echoed["steps"] == ["keep"]
        assert echoed["result"] == {"text": f"kept {MARKER}", "signal": None}
        refused = await _final(api, failed, "failed")
        assert refused["error"]["message"] == f"refused {MARKER}"
        later = await _final(api, retrying, "deferred")
        assert later["error"] is not None and MARKER in later["error"]["message"]
        signal = await _final(api, waiting, "complete", "failed")
        assert signal["result"] == {"text": MARKER, "signal": {"note": MARKER}}, signal
        again = await api.client.post(
            "/jobs/secret_echo",
            json={**secret, "fail_first": True},
            headers={"Idempotency-Key": MARKER},
        )
        assert again.status_code == 200 and again.json()["id"] == echo  # the hashed key matched

        metrics = (await api.client.get("/metrics")).text + (await api.client.get("/queues")).text
    assert "secret_echo" in metrics and MARKER not in metrics
    # The scan reads what is there: the job's name is stored in clear, its data is not.
    assert await found_in_redis(redis, "secret_echo")
    assert await found_in_redis(redis, MARKER) == []
    logs = processes.log_text("worker") + processes.log_text("web")
    assert "secret_fail" in logs and MARKER not in logs


async def _stored_key_id(redis: RedisClient, key: str) -> str:
    """The key id a stored definition or final record is sealed with ('' in clear)."""
    raw = await redis.get(key)
    assert raw is not None, key
    sealed = orjson.loads(raw).get("e")
    return str(sealed).split(":")[1] if sealed else ""


async def test_a_rotation_keeps_old_records_readable_and_seals_new_ones_with_the_new_key(
    processes: Processes, redis: RedisClient
) -> None:
    # Written in clear, before encryption was on: read after it is (mixed mode).
    url = await processes.web(**env(None))
    async with JobsApi(url) as api:
        plain = await _enqueue(api, "secret_echo", {"text": "plain"})
    processes.started[-1].kill()
    q = keys.of_job(plain)
    assert await _stored_key_id(redis, q.job(plain)) == ""

    url = await processes.web(**env(KEY_A))
    worker = await processes.worker(**env(KEY_A))
    async with JobsApi(url) as api:
        assert (await _final(api, plain, "complete"))["result"]["text"] == "kept plain"
        worker.process.kill()
        await exit_code(worker.process)
        under_a = await _enqueue(api, "secret_echo", {"text": "under A"})
    assert await _stored_key_id(redis, q.result(plain)) == ID_A
    assert await _stored_key_id(redis, q.job(under_a)) == ID_A
    for process in processes.started:
        process.kill()

    # Restarted with a new first key: the job sealed with A runs; its outcome is sealed with B.
    url = await processes.web(**env(f"{KEY_B},{KEY_A}"))
    await processes.worker(**env(f"{KEY_B},{KEY_A}"))
    async with JobsApi(url) as api:
        view = await _final(api, under_a, "complete", "failed")
        assert view["status"] == "complete" and view["result"]["text"] == "kept under A"
        assert view["input"]["text"] == "under A"
        assert (await api.view(plain))["input"]["text"] == "plain"  # A's record, still read
        fresh = await _enqueue(api, "secret_echo", {"text": "under B"})
        assert (await _final(api, fresh, "complete"))["result"]["text"] == "kept under B"
    assert await _stored_key_id(redis, q.result(under_a)) == ID_B
    assert await _stored_key_id(redis, q.result(plain)) == ID_A  # until it expires, or:
    assert await _stored_key_id(redis, q.result(fresh)) == ID_B

    # Re-sealed with B (the README's rotation), A can go: every record still reads.
    rekey = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "jobs.layout.rekey"),
        env={**os.environ, "REDIS_URL": processes.redis_url, "ENCRYPTION_KEYS": f"{KEY_B},{KEY_A}"},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(rekey.communicate(), timeout=60)
    assert rekey.returncode == 0
    counted = json.loads(out)
    assert counted["resealed"] >= 1 and counted["unreadable"] == 0, counted
    assert await _stored_key_id(redis, q.result(plain)) == ID_B
    async with JobsApi(await processes.web(**env(KEY_B))) as api:
        assert (await api.view(plain))["result"]["text"] == "kept plain"
        assert (await api.view(under_a))["input"]["text"] == "under A"


async def test_a_worker_without_the_key_names_it_and_rewrites_nothing(
    processes: Processes, redis: RedisClient
) -> None:
    url = await processes.web(**env(KEY_A))
    async with JobsApi(url) as api:
        job_id = await _enqueue(api, "secret_echo", {"text": MARKER})
    q = keys.of_job(job_id)
    definition = await redis.get(q.job(job_id))

    for wrong in (KEY_C, None):
        worker = await processes.worker(**env(wrong))
        expected = "does not hold" if wrong else "is not set here"

        async def put_back(text: str = expected) -> bool:
            lines = processes.log_text("worker").splitlines()
            return any(f"key id {ID_A}" in line and text in line for line in lines)

        await eventually(put_back, timeout_s=30)
        worker.process.kill()
        await exit_code(worker.process)
        assert await redis.get(q.job(job_id)) == definition  # not failed, not rewritten
        assert await redis.get(q.result(job_id)) is None

    # The API of a process without the key says which key the job needs.
    elsewhere = await processes.web(**env(KEY_C))
    async with JobsApi(elsewhere) as api:
        view = await api.view(job_id)
    assert view["status"] in ("queued", "deferred") and view["input"] is None
    assert view["error"]["type"] == "UnknownEncryptionKey" and ID_A in view["error"]["message"]

    await processes.worker(**env(f"{KEY_B},{KEY_A}"))
    async with JobsApi(url) as api:
        done = await _final(api, job_id, "complete", "failed")
    # Its outcome is sealed with B, which this web process lacks: the status stands, and the
    # error says which key the rest needs.
    assert done["status"] == "complete" and done["tries"] == 1, done
    assert done["result"] is None and ID_B in done["error"]["message"]
    async with JobsApi(await processes.web(**env(f"{KEY_B},{KEY_A}"))) as api:
        done = await api.view(job_id)
    assert done["result"] == {"text": f"kept {MARKER}", "signal": None} and done["error"] is None


async def test_a_malformed_key_stops_the_worker_naming_the_setting(processes: Processes) -> None:
    started = processes._spawn([sys.executable, "-m", "jobs"], "worker", env(f"{KEY_A},not-a-key"))
    assert await exit_code(started, timeout_s=30) != 0
    log = processes.log_text("worker")
    assert "ENCRYPTION_KEYS: item 2 of 2 is not a urlsafe base64 32-byte key" in log
    assert KEY_A not in log

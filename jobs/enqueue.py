"""Put a job on its queue: one atomic round trip, idempotent on request.

    await enqueue(redis, "send_email", SendEmail(...), defer_by=60)

Works from the API, from another endpoint's handler, from a job, or from a script.
"""

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from arq.connections import ArqRedis
from arq.constants import expires_extra_ms
from pydantic import BaseModel

from jobs import keys, lua
from jobs.registry import JobSpec
from jobs.serialization import serialize
from settings import Settings, get_settings


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: str
    outcome: Literal["created", "existing", "duplicate"]
    """`existing`: the idempotency key was seen before (see `same_input`);
    `duplicate`: a job with this id exists already."""
    same_input: bool = True
    enqueued_ms: int = 0
    scheduled_ms: int = 0
    payload: dict[str, Any] | None = None


def input_fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _score_ms(now_ms: int, defer_by: float | timedelta | None, defer_until: datetime | None) -> int:
    if defer_until is not None:
        if defer_until.tzinfo is None:
            defer_until = defer_until.replace(tzinfo=UTC)
        return max(now_ms, int(defer_until.timestamp() * 1000))
    if defer_by is not None:
        seconds = defer_by.total_seconds() if isinstance(defer_by, timedelta) else defer_by
        return now_ms + max(0, int(seconds * 1000))
    return now_ms


async def enqueue(
    redis: ArqRedis,
    job: JobSpec | str,
    payload: BaseModel | dict[str, Any],
    *,
    defer_by: float | timedelta | None = None,
    defer_until: datetime | None = None,
    job_id: str | None = None,
    idempotency_key: str | None = None,
    settings: Settings | None = None,
) -> Enqueued:
    """Enqueue `job` with `payload` (validated by the caller; the worker validates again)."""
    settings = settings or get_settings()
    name = job if isinstance(job, str) else job.name
    queue = settings.queue_name if isinstance(job, str) else job.queue
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    job_id = job_id or uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    score = _score_ms(now_ms, defer_by, defer_until)
    fingerprint = input_fingerprint(data) if idempotency_key else ""
    job_ttl_ms = score - now_ms + expires_extra_ms
    idem_key = keys.idempotency(name, idempotency_key) if idempotency_key else keys.INDEX
    reply = await lua.script("enqueue")(
        redis,
        keys=[queue, keys.wake(queue), keys.INDEX, idem_key],
        args=[
            job_id,
            serialize({"t": None, "f": name, "a": [data], "k": {}, "et": now_ms}),
            score,
            job_ttl_ms,
            now_ms,
            "1" if score <= now_ms else "0",
            f"{job_id} {fingerprint}" if idempotency_key else "",
            settings.result_ttl_s * 1000 + (score - now_ms),
        ],
    )
    outcome, value = reply[0].decode(), reply[1].decode()
    if outcome == "existing":
        existing_id, _, existing_fingerprint = value.partition(" ")
        return Enqueued(existing_id, "existing", existing_fingerprint == fingerprint)
    if outcome == "duplicate":
        return Enqueued(value, "duplicate")
    return Enqueued(value, "created", True, now_ms, score, data)

"""Signals: wake a job parked in `ctx.wait_for_signal(name)` with a JSON body it receives.

The body goes into the job's state and the job is due at once (`signal.lua`), so its next try
(on any worker) returns the body from `wait_for_signal`. Only a job parked for that very signal
takes it: a job running, queued, final, or waiting for another signal refuses it, and the
caller learns so (the API answers 409) rather than a signal being kept for later.
"""

from typing import Any, Literal

import orjson

from jobs.layout import encryption, keys, scripts
from jobs.layout.connection import RedisClient

MAX_BODY_BYTES = 64 * 1024
"""A signal's body, at most (it is stored with the job until the job is final)."""

SignalOutcome = Literal["delivered", "not_waiting"]


class SignalTooLarge(ValueError):
    """A signal body over `MAX_BODY_BYTES`."""


async def send_signal(
    redis: RedisClient, job_id: str, name: str, body: Any = None
) -> tuple[SignalOutcome, str]:
    """Deliver `name` with `body` (JSON-able) to the job; ("delivered", "") or
    ("not_waiting", the signal it waits for, "" if none)."""
    data = orjson.dumps(body)
    if len(data) > MAX_BODY_BYTES:
        raise SignalTooLarge(f"a signal's body is at most {MAX_BODY_BYTES:,} bytes of JSON")
    data = encryption.seal_bytes(data)  # `signal.lua` stores it as given, never reads it
    q = keys.of_job(job_id)
    reply: list[bytes] = await scripts.script("signal")(
        redis, [q.due, q.wake], [q.prefix, job_id, name, data]
    )
    outcome = reply[0].decode()
    waiting_for = reply[1].decode() if len(reply) > 1 else ""
    return ("delivered" if outcome == "delivered" else "not_waiting"), waiting_for

"""Durable steps: `await ctx.step("charge", charge_card, order)` runs a step once per job.

The step's JSON result is stored in the job's state hash (`state:{id}`, field `step:{name}`)
by the same fenced write as progress (`progress.lua`): only the try holding the lease
records it. A later try of the job (a retry, or after its worker died) returns the stored
result without running the step again, so a job that charged a card and then failed does not
charge it twice. The result is read back through the step function's return annotation (a
model comes back as the model), or as plain JSON without one.

What it is not: exactly once for the step's own side effect. A worker killed after the step's
work and before its record runs that step again on the next try (only that step: the ones
recorded before it replay). Make the step's effect idempotent where that matters (a payment
provider's idempotency key, e.g. the job id and the step's name).

With `ENCRYPTION_KEYS` set, the stored result is sealed (`jobs.layout.encryption`).

The record lives as long as the job's state: until the job is final; the names of the steps
its last try ran or replayed are kept in its final record (`JobView.steps`).
"""

import asyncio
import inspect
import re
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, get_type_hints

from pydantic import TypeAdapter, ValidationError

from jobs.declare.job_errors import JobFailed
from jobs.layout import encryption

T = TypeVar("T")

FIELD = "step:"
"""The state-hash field of a step: `step:{name}`."""
NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
MAX_RESULT_BYTES = 256 * 1024
"""A step's stored result, at most (it lives in Redis until the job is final)."""


SLEEP = "sleep:"
"""`sleep:{name}`: when a durable sleep ends (server ms), recorded by its first call."""
SIGNAL = "sig:"
"""`sig:{name}`: a signal's body (JSON), written by `signal.lua`."""
SIGNAL_DEADLINE = "sigwait:"
"""`sigwait:{name}`: until when the job waits for that signal (server ms)."""
MAX_SUSPEND_S = 365 * 24 * 3600.0


class Suspend(BaseException):
    """Raised by `ctx.sleep` and `ctx.wait_for_signal` to end the try without counting it: the
    worker settles the job due again after `delay_ms` (parked for `signal`, if any). A
    BaseException, so that a job's `except Exception` does not swallow it."""

    def __init__(self, delay_ms: int, signal: str = "") -> None:
        super().__init__(delay_ms, signal)
        self.delay_ms = max(delay_ms, 1)
        self.signal = signal


class SignalTimeout(JobFailed):
    """`ctx.wait_for_signal` waited its whole timeout: no signal came."""


class StepResultTooLarge(JobFailed):
    """A step returned more than `MAX_RESULT_BYTES` of JSON: the job fails (a retry would too)."""


class StepNotRecorded(Exception):
    """This try lost its job's lease before it could record a step: another try owns the job
    now (the worker drops this try's outcome)."""


class StepResultUnreadable(JobFailed):
    """A stored step result no longer fits the step function's return type (the code changed
    under a job in flight)."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"a step's name is [A-Za-z0-9_.:-]{{1,100}}, not {name!r}")
    return name


@cache
def _adapter(function: Callable[..., Any]) -> TypeAdapter[Any]:
    """How the step's result is written and read back: its return annotation, else any JSON."""
    try:
        hints = get_type_hints(function)
    except Exception:
        hints = {}
    return TypeAdapter(hints.get("return", Any))


def adapter_for(function: Callable[..., Any]) -> TypeAdapter[Any]:
    try:
        return _adapter(function)
    except TypeError:  # unhashable callable (a partial with a list in it): no cache
        return _adapter.__wrapped__(function)


def encode(name: str, function: Callable[..., Any], result: Any) -> bytes:
    """The stored form of a step's result; `StepResultTooLarge` past the limit."""
    data = adapter_for(function).dump_json(result)
    if len(data) > MAX_RESULT_BYTES:
        raise StepResultTooLarge(
            f"step {name!r} returned {len(data):,} bytes of JSON; at most {MAX_RESULT_BYTES:,} "
            "are stored: store the data elsewhere and return a reference"
        )
    return encryption.seal_bytes(data)


def decode(name: str, function: Callable[..., Any], raw: bytes) -> Any:
    """A stored result read back; `EncryptionError` if sealed with a key not held here."""
    try:
        return adapter_for(function).validate_json(encryption.open_bytes(raw))
    except ValidationError as exc:
        raise StepResultUnreadable(
            f"step {name!r}: its stored result no longer fits the step's return type: {exc}"
        ) from None


async def run_async(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A step of an `async def` job: a coroutine function awaited, a plain one in a thread (it
    may block; the event loop must not)."""
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    result = await asyncio.to_thread(function, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result

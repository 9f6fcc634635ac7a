"""JSON on the wire and in Redis, never pickle.

These are ARQ's `job_serializer` / `job_deserializer` (`arq_deserialize` for a stock ARQ client
reading outcomes). Exceptions (which stock ARQ would pickle into a failed result) become
`{"type", "message", "retryable"}`.
"""

import asyncio
from datetime import datetime
from typing import Any, TypedDict

import orjson
from pydantic import BaseModel, ValidationError

from jobs.layout import encryption


class ErrorInfo(TypedDict):
    """An error as stored (a try's last error in the state hash, a failed job's result):
    never a pickled exception."""

    type: str
    message: str
    retryable: bool


def is_permanent(exc: BaseException) -> bool:
    """No try can succeed: the input is invalid (pydantic's `ValidationError`), or the
    exception's class says so (`permanent = True`: `JobFailed`, `Aborted`)."""
    return isinstance(exc, ValidationError) or getattr(type(exc), "permanent", False) is True


def error_info(exc: BaseException, *, retryable: bool | None = None) -> ErrorInfo:
    """How an error is recorded; unless told, retryable when it is neither permanent nor a
    cancellation."""
    if retryable is None:
        retryable = not (is_permanent(exc) or isinstance(exc, asyncio.CancelledError))
    # An error reported from a child process keeps the name of the type raised there.
    kind = getattr(exc, "error_type", None) or exc.__class__.__name__
    message = str(exc) or kind
    return {"type": kind, "message": message[:2000], "retryable": retryable}


def _default(value: object) -> object:
    if isinstance(value, BaseException):
        return error_info(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class NotSerializable(ValueError):
    """A value JSON here cannot hold exactly (e.g. an integer past 64 bits)."""


def canonical(obj: Any) -> bytes:
    """`obj` as JSON with sorted keys: equal values, equal bytes (what inputs and key values are
    hashed or compared by). `NotSerializable` as `serialize`."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise NotSerializable(f"cannot store this value as JSON: {exc}") from None


def serialize(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=_default)
    except orjson.JSONEncodeError as exc:
        raise NotSerializable(f"cannot store this value as JSON: {exc}") from None


def deserialize(data: bytes | str) -> Any:
    return orjson.loads(data)


class FailedJobError(Exception):
    """What a stock ARQ client's `Job.result()` raises for a job that failed: stock ARQ would
    unpickle the job's own exception, we never unpickle; the stored error's `type` (the name
    of the exception's class), `message` and `retryable` are kept."""

    def __init__(self, type: str, message: str, retryable: bool = False) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.retryable = retryable


def _raised(record: dict[str, Any]) -> BaseException:
    """The exception a failed final record's `r` stands for: an aborted job's is ARQ's own
    `asyncio.CancelledError` (what `Job.abort()` waits for), any other a `FailedJobError`."""
    error = record.get("r")
    if not isinstance(error, dict):
        error = {"type": "JobFailed", "message": str(error)}
    kind, message = str(error.get("type", "JobFailed")), str(error.get("message", ""))
    if record.get("status") == "aborted":
        return asyncio.CancelledError(message)
    return FailedJobError(kind, message, error.get("retryable") is True)


def arq_deserialize(data: bytes | str) -> Any:
    """`deserialize`, for a stock ARQ client (`job_deserializer=arq_deserialize`): a job's final
    record (the worker copies a stock ARQ producer's job's to `arq:result:{id}`) gets what
    `arq.jobs.deserialize_result` needs and ours leaves out (`k` when empty, `st` when the job
    never started: its finish time then), and a failed one's error becomes an exception
    (`_raised`), which `Job.result()` raises as stock ARQ raises the job's own. A record sealed
    with `ENCRYPTION_KEYS` opens only in a process whose settings hold the key."""
    value = orjson.loads(data)
    if isinstance(value, dict) and "e" in value and "ft" in value:
        # Sealed (`ENCRYPTION_KEYS`): opened with this process's keys, or `EncryptionError`.
        value["a"], value["k"], value["r"] = encryption.open_json(value.pop("e"))
    if isinstance(value, dict) and "s" in value and "r" in value and "ft" in value:
        value.setdefault("k", {})
        value.setdefault("st", value["ft"])
        if value["s"] is not True:
            value["r"] = _raised(value)
    return value

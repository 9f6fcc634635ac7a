"""JSON on the wire and in Redis, never pickle.

These are ARQ's `job_serializer` / `job_deserializer`. Exceptions (which stock ARQ would
pickle into a failed result) become `{"type", "message", "retryable"}`.
"""

import asyncio
from datetime import datetime
from typing import Any, TypedDict

import orjson
from pydantic import BaseModel


class ErrorInfo(TypedDict):
    """An error as stored (a try's last error in the state hash, a failed job's result):
    never a pickled exception."""

    type: str
    message: str
    retryable: bool


def error_record(exc: BaseException, *, retryable: bool) -> ErrorInfo:
    message = str(exc) or exc.__class__.__name__
    return {"type": exc.__class__.__name__, "message": message[:2000], "retryable": retryable}


def _default(value: object) -> object:
    if isinstance(value, BaseException):  # one no caller classified: retryable unless cancelled
        return error_record(value, retryable=not isinstance(value, asyncio.CancelledError))
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class NotSerializable(ValueError):
    """A value JSON here cannot hold exactly (e.g. an integer past 64 bits)."""


def serialize(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=_default)
    except orjson.JSONEncodeError as exc:
        raise NotSerializable(f"cannot store this value as JSON: {exc}") from None


def deserialize(data: bytes | str) -> Any:
    return orjson.loads(data)

"""What a job raises, and how errors are recorded."""

import asyncio
from typing import TypedDict

from pydantic import ValidationError


class JobFailed(Exception):
    """Raise from a job to fail it for good: it is not retried."""


class JobTimeout(TimeoutError):
    """A try ran past its job's `timeout`."""


class Aborted(Exception):
    """The job was aborted on request."""


PERMANENT: tuple[type[BaseException], ...] = (JobFailed, ValidationError, Aborted)


class ErrorInfo(TypedDict):
    type: str
    message: str
    retryable: bool


def error_info(exc: BaseException, *, retryable: bool | None = None) -> ErrorInfo:
    if retryable is None:
        retryable = not isinstance(exc, (*PERMANENT, asyncio.CancelledError))
    message = str(exc) or exc.__class__.__name__
    return {"type": exc.__class__.__name__, "message": message[:2000], "retryable": retryable}

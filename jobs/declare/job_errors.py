"""What a job raises, and how errors are recorded."""

import asyncio

from pydantic import ValidationError

from jobs.layout.serialization import ErrorInfo, error_record


class JobFailed(Exception):
    """Raise from a job to fail it for good: it is not retried."""


class JobTimeout(TimeoutError):
    """A try ran past its job's `timeout`."""


class Aborted(Exception):
    """The job was aborted on request."""


PERMANENT: tuple[type[BaseException], ...] = (JobFailed, ValidationError, Aborted)


def error_info(exc: BaseException, *, retryable: bool | None = None) -> ErrorInfo:
    """How a try's error is recorded; retryable unless it is one of the `PERMANENT` kinds."""
    if retryable is None:
        retryable = not isinstance(exc, (*PERMANENT, asyncio.CancelledError))
    return error_record(exc, retryable=retryable)

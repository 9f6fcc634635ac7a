"""Errors are recorded as `{type, message, retryable}`; permanent ones are not retryable."""

import asyncio

from jobs.declare.job_errors import Aborted, JobFailed
from jobs.layout.serialization import error_info


def test_error_info_marks_permanent_errors_and_cancellation_not_retryable() -> None:
    assert error_info(Aborted("aborted on request")) == {
        "type": "Aborted",
        "message": "aborted on request",
        "retryable": False,
    }
    assert error_info(JobFailed("no"))["retryable"] is False
    assert error_info(asyncio.CancelledError())["retryable"] is False
    assert error_info(OSError("down"))["retryable"] is True
    assert error_info(ValueError())["message"] == "ValueError"

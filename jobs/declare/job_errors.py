"""What a job raises. How an error is recorded (and which ones no retry can fix) is
`jobs.layout.serialization.error_info`."""

from typing import ClassVar

from pydantic import ValidationError


class JobFailed(Exception):
    """Raise from a job to fail it for good: it is not retried."""

    permanent: ClassVar[bool] = True


class JobTimeout(TimeoutError):
    """A try ran past its job's `timeout`."""


class Aborted(Exception):
    """The job was aborted on request."""

    permanent: ClassVar[bool] = True


class InvalidOutput(JobFailed):
    """A job returned something that is not its declared output: a bug no retry fixes."""

    def __init__(self, job: str, output: type, error: ValidationError) -> None:
        problems = error.errors(include_url=False)
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in problems
        )
        super().__init__(f"{job} returned something that is not its {output.__name__}: {detail}")


class ReportedError(Exception):
    """An error raised elsewhere (a job run in a child process), known by what was reported:
    its type's name, its message, and whether a retry may fix it."""

    def __init__(self, error_type: str, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.retryable = retryable

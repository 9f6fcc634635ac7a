"""What a job raises. How an error is recorded (and which ones no retry can fix) is
`jobs.layout.serialization.error_info`."""

from typing import ClassVar


class JobFailed(Exception):
    """Raise from a job to fail it for good: it is not retried."""

    permanent: ClassVar[bool] = True


class JobTimeout(TimeoutError):
    """A try ran past its job's `timeout`."""


class Aborted(Exception):
    """The job was aborted on request."""

    permanent: ClassVar[bool] = True

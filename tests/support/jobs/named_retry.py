"""A job whose name is a route of the job API (`POST /jobs/retry`): the service refuses it."""

from jobs import job


@job(name="retry")
async def retry_everything() -> None:
    """Never enqueued: the app refuses to start with it."""

"""The final record of a job, in ARQ's result layout (so `arq.jobs.Job.result()` reads it)."""

from typing import Any, Literal

from jobs.records import open_json

FinalStatus = Literal["complete", "failed", "aborted"]


def result_data(
    *,
    job_id: str,
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    tries: int,
    enqueued_ms: int,
    status: FinalStatus,
    result: Any,
    started_ms: int | None,
    queue: str,
    worker: str | None = None,
) -> bytes:
    """ARQ's keys (`t f a k et s r st ft q id`) plus `status`, which ARQ cannot express, and
    the `worker` that ran the last try. `started_ms` is None for a job that never started.

    Open JSON (see `jobs.records.open_json`): the script that stores it appends `ft`, the
    server's time of the settle, so finish times agree with the failed registry's scores."""
    return open_json(
        {
            "t": tries,
            "f": name,
            "a": args,
            "k": kwargs,
            "et": enqueued_ms,
            "s": status == "complete",
            "r": result,
            "st": started_ms,
            "q": queue,
            "id": job_id,
            "status": status,
            "worker": worker,
        }
    )

"""The final record of a job, in ARQ's result layout (so `arq.jobs.Job.result()` reads it)."""

from typing import Any, Literal

from jobs.serialization import serialize

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
    started_ms: int,
    finished_ms: int,
    queue: str,
    worker: str | None = None,
) -> bytes:
    """ARQ's keys (`t f a k et s r st ft q id`) plus `status`, which ARQ cannot express, and
    the `worker` that ran the last try."""
    return serialize(
        {
            "t": tries,
            "f": name,
            "a": args,
            "k": kwargs,
            "et": enqueued_ms,
            "s": status == "complete",
            "r": result,
            "st": started_ms,
            "ft": finished_ms,
            "q": queue,
            "id": job_id,
            "status": status,
            "worker": worker,
        }
    )

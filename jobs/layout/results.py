"""The final record of a job, as stored: ARQ's result keys, minus what the key already says.

Fields: `t` tries, `f` function, `a` args, `k` kwargs (omitted when empty), `et` enqueued ms,
`s` success, `r` result or error, `st` started ms (absent: it never started), `status` (failed
or aborted, which ARQ cannot tell apart; absent when `s` says complete), `w` the worker of the
last try, `p` priority (when not 0), `ft` finished ms (appended by the settling script). The id
and the queue are the key's. Every byte counts: one of these is kept per finished job.
"""

from typing import Any, Literal

from jobs.layout.records import open_json

FinalStatus = Literal["complete", "failed", "aborted"]


def result_data(
    *,
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    tries: int,
    enqueued_ms: int,
    status: FinalStatus,
    result: Any,
    started_ms: int | None,
    worker: str | None = None,
    priority: int = 0,
) -> bytes:
    """Open JSON (see `jobs.layout.records.open_json`): the script that stores it appends `ft`, the
    server's time of the settle, so finish times agree with the failed registry's scores."""
    fields: dict[str, Any] = {
        "t": tries,
        "f": name,
        "a": args,
        "et": enqueued_ms,
        "s": status == "complete",
        "r": result,
    }
    if status != "complete":  # `s` says complete; failed and aborted need telling apart
        fields["status"] = status
    if kwargs:
        fields["k"] = kwargs
    if started_ms is not None:
        fields["st"] = started_ms
    if worker:
        fields["w"] = worker
    if priority:
        fields["p"] = priority
    return open_json(fields)

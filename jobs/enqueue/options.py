"""What an enqueue may say besides the job and its input: one value, `EnqueueOptions`, from
the HTTP route and the Python clients down to the script row.

The keyword APIs (`JobClient.enqueue(job, payload, defer_by=60)`, the HTTP clients,
`jobs.enqueue.submit.enqueue`) take the same fields as keyword arguments, typed by
`EnqueueKwargs`, and build the value at once; a test checks that the two list the same
fields with the same types. A new option is a field here and a column of the script's row.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

from jobs.graph.dependencies import OnParentFailure


class EnqueueKwargs(TypedDict, total=False):
    """`EnqueueOptions` as keyword arguments: `**options: Unpack[EnqueueKwargs]`."""

    queue: str | None
    priority: int
    defer_by: float | timedelta | None
    defer_until: datetime | None
    unique_for: float | timedelta | None
    expires_in: float | timedelta | None
    expires_at: datetime | None
    after: Sequence[str]
    on_parent_failure: OnParentFailure
    callback_url: str | None
    fair_key: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueOptions:
    """When, where and how urgently a job runs, what it waits for and whom it tells."""

    queue: str | None = None
    """Its queue instead of the one it declares (`QueuePinned` if its limits live there)."""
    priority: int = 0
    """0..1,000,000, lower first; FIFO within one."""
    defer_by: float | timedelta | None = None
    """Not before this many seconds from now (the server's clock)."""
    defer_until: datetime | None = None
    """Not before this time (naive: UTC)."""
    unique_for: float | timedelta | None = None
    """Overrides the declared `unique_for` (seconds)."""
    expires_in: float | timedelta | None = None
    """Overrides the declared `expires`: not started within this long, it never starts."""
    expires_at: datetime | None = None
    """Not started by this time, it never starts."""
    after: Sequence[str] = ()
    """Job ids it waits for (`jobs.graph.dependencies`)."""
    on_parent_failure: OnParentFailure = "fail"
    callback_url: str | None = None
    """Once final, its JobView is POSTed there, signed (`jobs.webhooks.callback`)."""
    fair_key: str | None = None
    """Its fair share's key value, instead of its `@job(fair_key=...)` field's: within a
    queue and a priority, ready jobs of different values are served in turn."""

    @classmethod
    def of(cls, options: "EnqueueOptions | None", kwargs: EnqueueKwargs) -> "EnqueueOptions":
        """The value a keyword API was given: `options`, or its keyword arguments (not both)."""
        if options is None:
            return cls(**kwargs) if kwargs else NO_OPTIONS
        if kwargs:
            raise TypeError("give EnqueueOptions or keyword options, not both")
        return options

    def query_params(self) -> dict[str, str | int | float | list[str]]:
        """The route's query parameters for these options (those not at their default)."""
        params: dict[str, str | int | float | list[str]] = {}
        for name, value in (
            ("queue", self.queue),
            ("priority", self.priority or None),
            ("defer_by", _seconds(self.defer_by)),
            ("defer_until", _iso(self.defer_until)),
            ("unique_for", _seconds(self.unique_for)),
            ("expires_in", _seconds(self.expires_in)),
            ("expires_at", _iso(self.expires_at)),
            ("after", list(self.after) or None),  # repeated: ?after=a&after=b
            ("on_parent_failure", None if self.on_parent_failure == "fail" else "ignore"),
            ("callback_url", self.callback_url),
            ("fair_key", self.fair_key),
        ):
            if value is not None:
                params[name] = value
        return params


NO_OPTIONS = EnqueueOptions()


def _seconds(value: float | timedelta | None) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()

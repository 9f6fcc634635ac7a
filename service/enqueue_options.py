"""The query options every enqueue route takes (`?defer_by=`, `?queue=`, `?priority=`, ...):
checked by FastAPI from their declarations, so /docs and the OpenAPI document show them."""

import inspect
import re
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BeforeValidator, StringConstraints

from jobs.enqueue.options import EnqueueOptions
from jobs.enqueue.plan import MAX_DEFER_S, MAX_PRIORITY, InvalidSchedule, check_horizon
from jobs.graph.dependencies import MAX_PARENTS, OnParentFailure
from jobs.layout.ids import JOB_ID
from jobs.webhooks.url_policy import MAX_URL_LENGTH
from service.errors import InvalidRequest

# RFC 3339 `date-time` (what `format: date-time` promises), and nothing else pydantic would take:
# no Unix timestamps, no bare dates, no offset-less times, no space for the `T`.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339_only(value: object) -> object:
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise ValueError("expected an RFC 3339 date-time with an offset, e.g. 2030-01-31T09:00:00Z")


Rfc3339DateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
JobIdParam = Annotated[str, StringConstraints(pattern=JOB_ID.pattern, max_length=265)]


# Each query option, declared once: FastAPI checks it and /docs shows its description.
DeferBy = Annotated[
    float | None,
    Query(
        ge=0,
        le=MAX_DEFER_S,
        description="Run no sooner than this many seconds from now (not with `defer_until`).",
    ),
]
DeferUntil = Annotated[
    Rfc3339DateTime | None,
    Query(
        description="Run no sooner than this time: RFC 3339 with an offset "
        "(`2030-01-31T09:00:00Z`); a past time runs now (not with `defer_by`)."
    ),
]
QueueName = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9_.:\-]{1,64}$",
        description="Put the job on this queue instead of its declared one.",
    ),
]
Priority = Annotated[
    int, Query(ge=0, le=MAX_PRIORITY, description="Lower runs first; FIFO within one.")
]
UniqueFor = Annotated[
    float | None,
    Query(
        gt=0,
        le=MAX_DEFER_S,
        description="For this many seconds, while this job is not final, an equal enqueue "
        "(same job and input, or the job's `unique_key`) answers 200 with this job instead "
        "of a new one. Overrides the job's declared `unique_for`.",
    ),
]
ExpiresIn = Annotated[
    float | None,
    Query(
        gt=0,
        le=MAX_DEFER_S,
        description="Not started within this many seconds of its enqueue, the job never "
        "starts: it ends `failed` with error type `Expired` (not with `expires_at`).",
    ),
]
ExpiresAt = Annotated[
    Rfc3339DateTime | None,
    Query(
        description="Not started by this time (RFC 3339 with an offset), the job never "
        "starts: it ends `failed` with error type `Expired` (not with `expires_in`)."
    ),
]
After = Annotated[
    list[JobIdParam] | None,
    Query(
        max_length=MAX_PARENTS,
        description="Job ids this job waits for, one per parameter, repeated "
        "(`?after=a&after=b`): it is `waiting` until every one of them is final, then "
        "queued (no defer with it). An unknown or expired id is a 422 `unknown_parent` "
        "listing them, and nothing is enqueued.",
    ),
]
ParentFailure = Annotated[
    OnParentFailure,
    Query(
        description="With `after`: what a parent that did not complete (failed, aborted, "
        "or expired) means: `fail` (this job ends `failed` with `ParentFailed`, never "
        "started) or `ignore` (it runs anyway)."
    ),
]
CallbackUrl = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Once the job is final (complete, failed or aborted), POST its JobView "
        "to this URL, signed (`X-Signature`, `X-Webhook-Id`; see `GET /jobs/{id}/deliveries`"
        "). `https://` only (`http://` with `WEBHOOK_ALLOW_HTTP`); a literal private, "
        "loopback or link-local address is a 422 `callback_refused` unless "
        "`WEBHOOK_ALLOW_PRIVATE`; without a `WEBHOOK_SECRET` a 422 "
        "`webhooks_not_configured`. Nothing is enqueued then.",
    ),
]

FairKey = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1000,
        description="Its fair share's key (e.g. a tenant), instead of the value of the job's "
        "declared `fair_key` field: within a queue and a priority, ready jobs of different "
        "keys are served in turn (weights: `PUT /queues/{queue}/fair-weights/{key}`).",
    ),
]


def refuse_unknown_parameters(request: Request, known: frozenset[str]) -> None:
    """A query parameter no option declares is a 422 naming it: `?delay=5` (for `defer_by`)
    would otherwise run the job at once."""
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "Unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )


async def enqueue_options(
    request: Request,
    defer_by: DeferBy = None,
    defer_until: DeferUntil = None,
    queue: QueueName = None,
    priority: Priority = 0,
    unique_for: UniqueFor = None,
    expires_in: ExpiresIn = None,
    expires_at: ExpiresAt = None,
    after: After = None,
    on_parent_failure: ParentFailure = "fail",
    callback_url: CallbackUrl = None,
    fair_key: FairKey = None,
) -> EnqueueOptions:
    """An async dependency: a class one would run in the thread pool on every request."""
    refuse_unknown_parameters(request, OPTION_NAMES)
    if defer_by is not None and defer_until is not None:
        raise InvalidRequest("give defer_by or defer_until, not both")
    if expires_in is not None and expires_at is not None:
        raise InvalidRequest("give expires_in or expires_at, not both")
    options = EnqueueOptions(
        defer_by=defer_by,
        defer_until=defer_until,
        queue=queue,
        priority=priority,
        unique_for=unique_for,
        expires_in=expires_in,
        expires_at=expires_at,
        after=tuple(after or ()),
        on_parent_failure=on_parent_failure,
        callback_url=callback_url,
        fair_key=fair_key,
    )
    try:
        check_horizon(options)
    except InvalidSchedule as exc:
        raise RequestValidationError(
            [{"loc": ("query", exc.field), "msg": str(exc), "type": "less_than_equal"}]
        ) from None
    return options


OPTION_NAMES = frozenset(
    name for name in inspect.signature(enqueue_options).parameters if name != "request"
)
OptionsDep = Annotated[EnqueueOptions, Depends(enqueue_options)]

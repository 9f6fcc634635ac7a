"""Completion webhooks on enqueue: `enqueue(..., callback_url=...)` (and `jobs.webhooks.attach`).

A job's webhook is delivered by a job of its own, `jobsvc.deliver_webhook`
(`jobs.webhooks.delivery`), which waits for the job (`after=[job]`, `jobs.graph.dependencies`) with
`on_parent_failure="ignore"`: a job that fails or is aborted is reported too. It goes on the
job's own queue, so both live in one Redis Cluster slot: the job's settle releases its delivery
inside the same script (`finish.lua`, `abort.lua`), with no extra round trip.

**Atomic with the job.** `enqueue`/`enqueue_many` put the job's row and its delivery's row in
the *same* `enqueue.lua` call, the delivery right after its job; the script links a parent
created earlier in the same call itself (what `link.lua` would do in a call of its own). So
the job and its delivery appear together or not at all, in one round trip, on a single Redis
and on a Cluster alike (one slot). A MULTI/EXEC of separate calls would do the same on one
Redis, but it cannot skip the delivery when the job itself was not created: the script does
(an enqueue answered by an equal job not final yet, `unique_for`/debounce, or by an existing
id creates no delivery; the callback belongs to the enqueue that created the job).

**Once.** The delivery's id is its event id (`jobs.webhooks.signing.event_id_for(job, url)`, which
the receiver also gets as `X-Webhook-Id`): a second attempt to create it (a retried call,
`attach_webhook` run again) finds it and is a no-op.

**Checked at enqueue** (`check_callback`): completion webhooks must be configured (a signing
secret: `WEBHOOK_SECRET(S)`), and the URL must pass `jobs.webhooks.url_policy.check_url` (https
only unless `WEBHOOK_ALLOW_HTTP`; no literal private, loopback or link-local address unless
`WEBHOOK_ALLOW_PRIVATE`). A host name is checked again after resolution, at delivery.
"""

from dataclasses import dataclass
from typing import Any

from jobs.layout.ids import job_id_for, queue_of
from jobs.settings import Settings
from jobs.webhooks.delivery import DeliverWebhook
from jobs.webhooks.signing import WebhooksNotConfigured, event_id_for, signing_secrets
from jobs.webhooks.url_policy import WebhookRefused, check_url

DELIVERY_JOB = "jobsvc.deliver_webhook"


class InvalidCallback(ValueError):
    """A `callback_url` that cannot be accepted; nothing was enqueued (a 422 over HTTP)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        """`webhooks_not_configured` or `callback_refused`."""


def check_callback(url: str, settings: Settings) -> str:
    """The enqueue-time check of a callback URL (see the module); returns it as given."""
    try:
        signing_secrets(settings)
    except WebhooksNotConfigured:
        raise InvalidCallback(
            "webhooks_not_configured",
            "completion webhooks are not configured on this service (no WEBHOOK_SECRET or "
            "WEBHOOK_SECRETS to sign them with): callback_url cannot be used",
        ) from None
    try:
        check_url(url, settings)
    except WebhookRefused as refused:
        raise InvalidCallback("callback_refused", str(refused)) from None
    return url


@dataclass(frozen=True, slots=True)
class Delivery:
    """The delivery job of one job's webhook to one URL."""

    job_id: str
    """The delivery job's id: its event id, on the reported job's queue."""
    event_id: str
    queue: str
    payload: dict[str, Any]
    """`DeliverWebhook`'s input, as JSON."""

    @property
    def unique(self) -> str:
        """The unique part of `job_id` (what `enqueue(job_id=...)` takes)."""
        return self.event_id


def delivery_for(job_id: str, url: str) -> Delivery:
    """The delivery of `job_id`'s webhook to `url` (pure: no check, nothing written)."""
    event_id = event_id_for(job_id, url)
    queue = queue_of(job_id)
    payload = DeliverWebhook(job_id=job_id, url=url, event_id=event_id)
    return Delivery(job_id_for(queue, event_id), event_id, queue, payload.model_dump(mode="json"))

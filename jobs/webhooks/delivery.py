"""`jobsvc.deliver_webhook`: POST a final job's JobView to its callback URL, signed.

Enqueued once the job it reports on is final, with an event id that stays the same on every
attempt (`jobs.webhooks.signing.event_id_for`). Each attempt is this job's try: a non-2xx answer or
a network error retries it with backoff (`WEBHOOK_BACKOFF_*_S`) up to `WEBHOOK_MAX_ATTEMPTS`; an
address the policy refuses (`jobs.webhooks.url_policy`) fails it at once. Every attempt is recorded
on the reported job (`GET /jobs/{id}/deliveries`) and counted for `/metrics`.

How the connection is made: the name is resolved here, every address checked, and the request
goes to the checked address itself (the URL's host replaced by it), with `Host` and the TLS
server name (httpx's `sni_hostname` extension) set to the name, so the certificate is still
verified against the name. Nothing resolves the name a second time (no check-then-use
window), and no proxy from the environment is used (`trust_env=False`: a proxy would resolve
the name itself). A fresh client per attempt: a pooled connection is keyed by address and
could otherwise carry one name's TLS session to another name on the same address.
"""

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass

import httpx
from arq.worker import Retry
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import Field

from jobs import tracing
from jobs.declare.context import JobContext
from jobs.declare.job_errors import JobFailed
from jobs.declare.models import Model
from jobs.declare.registry import DECLARED, job
from jobs.layout.connection import is_cluster
from jobs.layout.ids import JOB_ID
from jobs.reading.job_record import load_job
from jobs.settings import Settings
from jobs.webhooks.attempts import DeliveryAttempt, Outcome, record_attempt, server_time
from jobs.webhooks.signing import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WebhooksNotConfigured,
    sign,
    signing_secrets,
)
from jobs.webhooks.url_policy import (
    MAX_URL_LENGTH,
    IPAddress,
    Target,
    WebhookRefused,
    check_url,
    redact_url,
    resolve,
)
from jobs.worker.backoff import backoff_s

logger = logging.getLogger(__name__)

RESPONSE_CAP_BYTES = 1024
"""Most of a response body read (and then dropped): the status is the answer."""
USER_AGENT = "jobsvc-webhooks/1"


class DeliverWebhook(Model):
    job_id: str = Field(pattern=JOB_ID.pattern, max_length=265)
    """The (final) job whose JobView is delivered."""
    url: str = Field(max_length=MAX_URL_LENGTH)
    event_id: str = Field(min_length=1, max_length=200)
    """Sent as `X-Webhook-Id` on every attempt."""


class Delivered(Model):
    event_id: str
    url: str
    """The callback URL, its query redacted (`url_policy.redact_url`)."""
    attempts: int
    """Attempts it took (1: delivered at once)."""
    status_code: int


class DeliveryFailed(Retry):
    """A non-2xx answer or a network error: try again after `defer` seconds."""

    def __init__(self, message: str, defer: float) -> None:
        super().__init__(defer=defer)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    """What clients read (`/deliveries`, the delivery's error): never what kind of network
    failure it was, so a callback URL is no probe of what listens where."""
    cause: str | None = None
    """The network failure itself (refused, reset, TLS), for the worker's log only."""


NO_ANSWER = "no HTTP answer (the worker's log has the cause)"


def _attempts(settings: Settings) -> int:
    return settings.webhook_max_attempts


# Internal: enqueued by the service behind the job it reports on (`jobs.webhooks.callback`), never
# over `POST /jobs/{name}`. Its tries are the delivery attempts: `WEBHOOK_MAX_ATTEMPTS`.
@job(name="jobsvc.deliver_webhook", max_tries=_attempts, timeout=60, internal=True)
async def deliver_webhook(ctx: JobContext, payload: DeliverWebhook) -> Delivered:
    """Deliver a final job's JobView to a callback URL, signed; retried with backoff."""
    settings, attempt = ctx.settings, ctx.try_
    if attempt > settings.webhook_max_attempts:  # tries lost to crashes count too
        raise JobFailed(f"gave up after {settings.webhook_max_attempts} attempts")
    try:
        secret = signing_secrets(settings)[0]
    except WebhooksNotConfigured as exc:
        raise JobFailed(str(exc)) from None
    record = await load_job(
        ctx.redis, payload.job_id, _max_tries(settings), legacy=not is_cluster(settings)
    )
    if record is None:
        raise JobFailed(f"job {payload.job_id!r} is unknown or expired: nothing to deliver")
    body = record.model_dump_json().encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: payload.event_id,
        ATTEMPT_HEADER: str(attempt),
    }
    at = await server_time(ctx.redis)
    started = time.monotonic()
    attributes: dict[str, str | int] = {
        "url.full": redact_url(payload.url),
        "webhook.attempt": attempt,
    }
    with tracing.span("webhook POST", attributes, kind=SpanKind.CLIENT) as span:
        # `traceparent` (not signed: the signature covers the body) lets the receiver join.
        signed = {**headers, **tracing.headers(), SIGNATURE_HEADER: sign(body, secret)}
        answer = await post(payload.url, body, signed, settings)
        if span is not None:
            span.set_attribute("webhook.outcome", answer.outcome)
            if answer.status_code is not None:
                span.set_attribute("http.response.status_code", answer.status_code)
            if answer.outcome != "delivered":
                span.set_status(StatusCode.ERROR, answer.error or "")
    await record_attempt(
        ctx.redis,
        payload.job_id,
        DeliveryAttempt(
            event_id=payload.event_id,
            attempt=attempt,
            at=at,
            url=redact_url(payload.url),
            outcome=answer.outcome,
            status_code=answer.status_code,
            error=answer.error,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
        ),
    )
    if answer.cause is not None:
        logger.warning(
            "webhook attempt failed: %s",
            answer.cause,
            extra={"job_id": payload.job_id, "url": redact_url(payload.url), "attempt": attempt},
        )
    if answer.outcome == "delivered" and answer.status_code is not None:
        return Delivered(
            event_id=payload.event_id,
            url=redact_url(payload.url),
            attempts=attempt,
            status_code=answer.status_code,
        )
    message = answer.error or f"HTTP {answer.status_code}"
    if answer.outcome == "refused":
        raise JobFailed(message)
    if attempt >= settings.webhook_max_attempts:
        raise JobFailed(f"gave up after {attempt} attempts: {message}")
    delay = backoff_s(attempt, settings.webhook_backoff_base_s, settings.webhook_backoff_max_s)
    raise DeliveryFailed(message, defer=delay)


async def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    settings: Settings,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Answer:
    """One attempt: check, resolve, connect to a checked address, POST; never raises for what
    the receiver or the network does (that is the answer). `ssl_context`: the certificates to
    trust (default: the system's; tests pass their own CA)."""
    try:
        target = check_url(url, settings)
        async with asyncio.timeout(settings.webhook_timeout_s):
            addresses = await resolve(target, settings)
            return await _post_to(target, addresses, body, headers, settings, ssl_context)
    except WebhookRefused as refused:
        return Answer("refused", error=str(refused))
    except TimeoutError:
        cause = f"timed out after {settings.webhook_timeout_s:g} s"
        return Answer("failed", error=NO_ANSWER, cause=cause)
    except (httpx.HTTPError, OSError) as exc:
        return Answer("failed", error=NO_ANSWER, cause=f"{type(exc).__name__}: {exc}"[:500])


async def _post_to(
    target: Target,
    addresses: list[IPAddress],
    body: bytes,
    headers: dict[str, str],
    settings: Settings,
    ssl_context: ssl.SSLContext | None,
) -> Answer:
    timeout = httpx.Timeout(settings.webhook_timeout_s)
    request_headers = {**headers, "Host": target.host_header}
    extensions = {} if target.address is not None else {"sni_hostname": target.host}
    last: Exception | None = None
    for address in addresses:  # the next address only if this one cannot be reached at all
        pinned = httpx.URL(target.url).copy_with(host=str(address))
        async with httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            verify=ssl_context if ssl_context is not None else True,
        ) as client:
            try:
                async with client.stream(
                    "POST", pinned, content=body, headers=request_headers, extensions=extensions
                ) as response:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= RESPONSE_CAP_BYTES:
                            break
                    code = response.status_code
            except httpx.ConnectError as exc:
                last = exc
                continue
        outcome: Outcome = "delivered" if 200 <= code < 300 else "failed"
        return Answer(outcome, code, None if outcome == "delivered" else f"HTTP {code}")
    raise last or OSError("no address to connect to")


def _max_tries(settings: Settings) -> dict[str, int]:
    """Max tries per job name, for the JobView (the worker's catalog is not in the ctx)."""
    return {n: d.resolve(settings).max_tries for n, d in DECLARED.items()}

"""Completion webhooks: the signature every delivery carries, and its secrets.

**Signature** (Stripe's scheme). Every delivery carries

    X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
    X-Webhook-Id: <event id>     (the same on every attempt of one delivery: drop repeats)

A receiver recomputes the HMAC over the timestamp, a dot and the raw request body (before any
JSON parsing), compares in constant time, and refuses a timestamp older than a few minutes
(replays). `verify_signature` does exactly that.

**Rotation.** `WEBHOOK_SECRETS=new,old` signs with the first secret only. To rotate: (1) the
receiver accepts both secrets (`verify_signature(body, header, [new, old])` passes if any of
them matches); (2) the service puts the new secret first; (3) once no delivery signed with the
old one is pending, both sides drop it. `WEBHOOK_SECRET` is the one-secret form.

The delivery job itself is `jobs.webhooks.delivery`; where it may connect,
`jobs.webhooks.url_policy`; the record of its attempts, `jobs.webhooks.attempts`.
"""

import hashlib
import hmac
import time
from collections.abc import Sequence

from pydantic import SecretStr

from jobs.settings import Settings

SIGNATURE_HEADER = "X-Signature"
EVENT_ID_HEADER = "X-Webhook-Id"
ATTEMPT_HEADER = "X-Webhook-Attempt"
TOLERANCE_S = 300
"""How old a signature's timestamp `verify_signature` accepts by default."""


class WebhooksNotConfigured(RuntimeError):
    """No `WEBHOOK_SECRET`/`WEBHOOK_SECRETS`: nothing is delivered unsigned."""


# --- signing -------------------------------------------------------------------------------


def signing_secrets(settings: Settings) -> list[str]:
    """The configured secrets, the signing one first; raises `WebhooksNotConfigured` if none."""
    configured: list[SecretStr] = settings.webhook_secrets or (
        [settings.webhook_secret] if settings.webhook_secret else []
    )
    secrets = [s.get_secret_value() for s in configured if s.get_secret_value()]
    if not secrets:
        raise WebhooksNotConfigured("set WEBHOOK_SECRET (or WEBHOOK_SECRETS) to send webhooks")
    return secrets


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `X-Signature` value for `body`: `t=<unix seconds>,v1=<hex HMAC-SHA256>`."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, body)}"


def verify_signature(
    body: bytes,
    header: str,
    secrets: Sequence[str],
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True if `header` (an `X-Signature` value) signs the raw `body` with any of `secrets`
    and its timestamp is within `tolerance_s` of `now`. For receivers (and the tests)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = [_digest(secret, timestamp, body) for secret in secrets if secret]
    return any(hmac.compare_digest(e, s) for e in expected for s in signatures)


def event_id_for(job_id: str, url: str) -> str:
    """A delivery's event id, derived from the job and the URL: enqueueing the same delivery
    twice (say, after a crash) sends the same `X-Webhook-Id`, so the receiver drops the repeat;
    as the delivery job's own id it makes the second enqueue a no-op."""
    return "evt_" + hashlib.sha256(f"{job_id}\n{url}".encode()).hexdigest()[:32]

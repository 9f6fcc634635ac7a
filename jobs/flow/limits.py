"""Flow control declared on a job: limits shared by every worker, uniqueness, expiry.

    @job(concurrency=5, concurrency_key="customer_id", rate_limit="100/m", unique_for=60)

Everything here is checked when the job is declared (import time): a malformed rate or a key
that is not a field of the input model stops the import with a message naming the job.

At enqueue, `FlowControl.gates(payload)` names the gates a job passes on its way to a worker:
`c:{job}[:{key value}]` for a concurrency limit, `r:{job}[:{key value}]` for a rate limit.
The scripts keep each gate's state in the queue's slot (`jobs.layout.keys.QueueKeys`: `flow`,
`running`, `held`, `rate_tat`, `timers`, `gates`, `unique`), so a job type with a limit or
with uniqueness runs on its declared queue only.

The rate limiter is GCRA (the generic cell rate algorithm, as in ATM networks and
redis-cell): one number per gate, the theoretical arrival time (TAT). A job is admitted at
`now` when `now >= TAT - (burst - 1) * T`, where `T = period / count`; admitting it sets
`TAT = max(TAT, now) + T`. With the default burst of 1 admissions are spaced at least `T`
apart, so any window of length `period` (half-open) admits at most `count`; a burst `b` lets
`b` in at once after a quiet spell, and a window may then admit up to `count + b - 1`. Times are
the server's, in microseconds.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from jobs.layout import encryption, serialization
from jobs.layout.records import gate_name

_RATE = re.compile(r"\s*([1-9][0-9]{0,8})\s*/\s*([1-9][0-9]{0,5})?\s*(s|m|h|d)\s*")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
KEY_VALUE_MAX = 100
"""A key value longer than this (in its text form) is named by its hash in the gate."""


class FlowDeclarationError(ValueError):
    """A job's flow-control options are malformed; raised when the job is declared."""


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` admissions per `period_s`, e.g. "100/m", "20/s", "5/10s", "1000/h", "1/d"."""

    count: int
    period_s: int
    text: str

    @classmethod
    def parse(cls, text: str) -> "Rate":
        match = _RATE.fullmatch(text)
        if match is None:
            raise ValueError(
                f"rate_limit {text!r} is not 'COUNT/UNIT' with UNIT s, m, h or d "
                "(e.g. '100/m', '20/s', '5/10s')"
            )
        count, multiple, unit = match.groups()
        return cls(int(count), int(multiple or 1) * _UNIT_S[unit], text.strip())

    @property
    def interval_us(self) -> int:
        """T: the spacing of admissions at the sustained rate."""
        return max(1, round(self.period_s * 1_000_000 / self.count))


@dataclass(frozen=True, slots=True)
class FlowControl:
    """A job's limits as declared (all optional)."""

    concurrency: int | None = None
    concurrency_key: str | None = None
    rate: Rate | None = None
    rate_key: str | None = None
    rate_burst: int = 1
    unique_for_s: float | None = None
    unique_key: str | None = None
    debounce_s: float | None = None
    expires_s: float | None = None
    fair_key: str | None = None
    """The input field whose value names the job's fair share (`fair_value`)."""

    @property
    def gated(self) -> bool:
        """Does a worker need the gates' permission to start it?"""
        return self.concurrency is not None or self.rate is not None

    @property
    def pins_queue(self) -> bool:
        """Its gates and locks live in its declared queue's slot: no other queue may take it."""
        return self.gated or self.unique_for_s is not None or self.debounce_s is not None

    def gates(self, job: str, payload: Any) -> dict[str, Any]:
        """The per-job gate spec `claim.lua` and `finish.lua` read (see `records.encode_gates`)."""
        spec: dict[str, Any] = {}
        if self.concurrency is not None:
            spec["c"] = _gate("c", job, self.concurrency_key, payload)
            spec["n"] = self.concurrency
        if self.rate is not None:
            spec["r"] = _gate("r", job, self.rate_key, payload)
            spec["t"] = self.rate.interval_us
            spec["b"] = self.rate_burst
        return spec

    def fair_value(self, payload: Any) -> str:
        """The fair key value of a job with this input ('' none): within a queue and a
        priority, ready jobs of different values are served in turn (lua/includes/fair.lua)."""
        if self.fair_key is None:
            return ""
        return key_text(_field(payload, self.fair_key))

    def unique_lock(self, job: str, payload: Any) -> str:
        """What makes two enqueues "equal": the `unique_key` field's value, or else the whole
        input (for debounce without a key: the job type itself)."""
        if self.unique_key is not None:
            return f"{job}:{key_text(_field(payload, self.unique_key))}"
        if self.debounce_s is not None and self.unique_for_s is None:
            return job
        canonical = serialization.canonical(payload)  # an int past 64 bits: NotSerializable
        ring = encryption.active()
        if ring is not None:  # keyed: a plain hash of a guessable input gives the input away
            return f"{job}:#{ring.hash(canonical.decode())}"
        return f"{job}:#{hashlib.sha256(canonical).hexdigest()[:32]}"

    def describe(self) -> dict[str, Any]:
        """For `/job-types` and `/docs`: the limits as declared."""
        out: dict[str, Any] = {}
        if self.concurrency is not None:
            out["concurrency"] = self.concurrency
            if self.concurrency_key:
                out["concurrency_key"] = self.concurrency_key
        if self.rate is not None:
            out["rate_limit"] = self.rate.text
            out["rate_burst"] = self.rate_burst
            if self.rate_key:
                out["rate_key"] = self.rate_key
        if self.unique_for_s is not None:
            out["unique_for_s"] = self.unique_for_s
        if self.debounce_s is not None:
            out["debounce_s"] = self.debounce_s
        if self.unique_key is not None:
            out["unique_key"] = self.unique_key
        if self.expires_s is not None:
            out["expires_s"] = self.expires_s
        if self.fair_key is not None:
            out["fair_key"] = self.fair_key
        return out


def declare(
    job: str,
    input_model: type[BaseModel],
    *,
    concurrency: int | None,
    concurrency_key: str | None,
    rate_limit: str | None,
    rate_key: str | None,
    rate_burst: int,
    unique_for: float | None,
    unique_key: str | None,
    debounce: float | None,
    expires: float | None,
    fair_key: str | None = None,
) -> FlowControl:
    """Check the options against the input model; errors name the job."""

    def fail(message: str) -> FlowDeclarationError:
        return FlowDeclarationError(f"job {job!r}: {message}")

    def field_of_input(option: str, value: str | None) -> None:
        if value is not None and value not in input_model.model_fields:
            fields = ", ".join(input_model.model_fields) or "none"
            raise fail(
                f"{option}={value!r} is not a field of {input_model.__name__} (fields: {fields})"
            )

    if concurrency is not None and (isinstance(concurrency, bool) or concurrency < 1):
        raise fail(f"concurrency must be an integer >= 1, not {concurrency!r}")
    if concurrency_key is not None and concurrency is None:
        raise fail("concurrency_key needs concurrency=N")
    field_of_input("concurrency_key", concurrency_key)
    rate = None
    if rate_limit is not None:
        try:
            rate = Rate.parse(rate_limit)
        except ValueError as exc:
            raise fail(str(exc)) from None
    elif rate_key is not None:
        raise fail("rate_key needs rate_limit='COUNT/UNIT'")
    field_of_input("rate_key", rate_key)
    if isinstance(rate_burst, bool) or rate_burst < 1:
        raise fail(f"rate_burst must be an integer >= 1, not {rate_burst!r}")
    for option, seconds in (("unique_for", unique_for), ("debounce", debounce)):
        if seconds is not None and not seconds > 0:
            raise fail(f"{option} must be > 0 seconds, not {seconds!r}")
    if unique_key is not None and unique_for is None and debounce is None:
        raise fail("unique_key needs unique_for=SECONDS or debounce=SECONDS")
    field_of_input("unique_key", unique_key)
    field_of_input("fair_key", fair_key)
    if expires is not None and not expires > 0:
        raise fail(f"expires must be > 0 seconds, not {expires!r}")
    return FlowControl(
        concurrency=concurrency,
        concurrency_key=concurrency_key,
        rate=rate,
        rate_key=rate_key,
        rate_burst=rate_burst,
        unique_for_s=unique_for,
        unique_key=unique_key,
        debounce_s=debounce,
        expires_s=expires,
        fair_key=fair_key,
    )


def _field(payload: Any, name: str) -> Any:
    if isinstance(payload, BaseModel):
        return getattr(payload, name, None)
    return payload.get(name) if isinstance(payload, dict) else None


def key_text(value: Any) -> str:
    """A key value as it names a gate or a lock: itself, or with encryption on its keyed hash
    (a tenant's or a customer's id is the user's data)."""
    text = value if isinstance(value, str) else serialization.serialize(value).decode()
    if encryption.active() is not None:
        return encryption.hashed(text)
    if len(text) > KEY_VALUE_MAX:
        return "#" + hashlib.sha256(text.encode()).hexdigest()[:32]
    return text


def _gate(kind: Literal["c", "r"], job: str, key: str | None, payload: Any) -> str:
    return gate_name(kind, job, None if key is None else key_text(_field(payload, key)))

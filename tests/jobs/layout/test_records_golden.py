"""Golden records: the bytes every stored value is written as must survive a refactor unchanged.

Two parts, both compared with `tests/golden/records.json`:

- codecs: each encoder in `jobs` run on fixed inputs gives the golden bytes, and each decoder
  reads the golden bytes back into those inputs;
- layout: a fixed scenario run through the real enqueue, worker, abort, cron, heartbeat and
  webhook-record code leaves exactly the golden keys, types, TTL kinds and values in Redis,
  once what varies from run to run (server times, the worker's id, random ids) is replaced
  by placeholders.

After a change that means to alter what is stored, regenerate the golden file (and review
its diff): `python -m tests.golden.capture`.
"""

import ast
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from jobs.declare.registry import load_catalog
from jobs.enqueue.abort import abort
from jobs.enqueue.submit import enqueue, enqueue_cron_tick
from jobs.flow.limits import FlowControl, Rate
from jobs.graph.batches import create_batch
from jobs.graph.workflows import task
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.records import (
    Event,
    JobDefinition,
    LeaseToken,
    WaitingAt,
    WorkflowRecord,
    encode_gates,
    open_json,
    result_data,
)
from jobs.reading import stats
from jobs.webhooks.attempts import DeliveryAttempt, record_attempt
from jobs.webhooks.signing import event_id_for
from jobs.worker import heartbeat
from settings import Settings
from tests.golden.capture import CAPTURE_ENV, GOLDEN
from tests.support.workers import RunWorker

MS = 1_764_000_000_123
"""A fixed server time for the codec inputs."""


# --- part a: codecs ------------------------------------------------------------------------

FLOW = FlowControl(
    concurrency=2,
    concurrency_key="customer",
    rate=Rate.parse("5/10s"),
    rate_key="customer",
    rate_burst=3,
    unique_for_s=60,
    unique_key="customer",
)
DEFINITION = JobDefinition(
    function="numbered",
    args=[{"n": 1, "s": "é"}],
    kwargs={"k": True},
    queue="emails",
    priority=3,
    has_parents=True,
)
STOCK_DEFINITION = JobDefinition(function="ping", kwargs={"x": 1}, enqueued_ms=MS)
LEASE = LeaseToken("host:123:abcdef", MS, "host:123:abcdef:7")
EVENT = Event("finished", ["a", "b@emails"])
WAITING = WaitingAt("rate_limit", MS)
WAITING_RAW = f'{{"gate":"r:one","until":"{MS}","on":"rate_limit","member":"x|y"}}'
"""`wait` in a held job's state hash, as flow.lua writes it (cjson: any key order)."""
WORKFLOW = WorkflowRecord(
    kind="batch",
    nodes={"0": "m0", "1": "m1", "on_complete": "cb"},
    after={"on_complete": ["0", "1"], "0": []},
    created_ms=MS,
    callbacks={"on_complete": "on_complete"},
    done="done1",
    callback_url="https://example.com/hook",
    ignore=frozenset({"on_complete"}),
    retries=1,
)
ATTEMPT = DeliveryAttempt(
    event_id="evt_0123",
    attempt=2,
    at=datetime(2025, 11, 24, 16, 0, 0, 123000, tzinfo=UTC),
    url="https://example.com/hook",
    outcome="failed",
    status_code=503,
    duration_ms=12.5,
)
STATS_HASH = {
    "outcome:numbered:complete": 2,
    "duration_bucket:numbered:0.01": 2,
    "duration_count:numbered": 2,
    "duration_sum_ms:numbered": 7,
    "pickup_bucket:+Inf": 1,
    "pickup_count": 1,
    "pickup_sum_ms": 1500,
}
"""What a worker's flush writes to `jobsvc:stats` (field names: `jobs.reading.stats`)."""


def codec_samples() -> dict[str, str]:
    """Name -> what the encoder writes (bytes as latin-1 text), for the fixed inputs above."""
    payload = {"customer": "acme", "n": 1}
    long_key = {"customer": "x" * 101, "n": 1}
    out: dict[str, bytes | str] = {
        "open_json": open_json({"a": [1, "é"], "b": None}),
        "JobDefinition.dump_open": DEFINITION.dump_open(),
        "JobDefinition.dump_open:stock": STOCK_DEFINITION.dump_open(),
        "result_data:complete": result_data(
            name="numbered",
            args=[{"n": 1}],
            kwargs={},
            tries=1,
            enqueued_ms=MS,
            status="complete",
            result={"n": 1},
            started_ms=MS + 5,
            worker="host:123:abcdef",
        ),
        "result_data:failed": result_data(
            name="numbered",
            args=[{"n": 1}],
            kwargs={"k": 1},
            tries=3,
            enqueued_ms=MS,
            status="failed",
            result={"type": "JobFailed", "message": "no", "retryable": False},
            started_ms=MS + 5,
            worker="host:123:abcdef",
            priority=4,
        ),
        "result_data:aborted": result_data(
            name="numbered",
            args=[],
            kwargs={},
            tries=0,
            enqueued_ms=MS,
            status="aborted",
            result=None,
            started_ms=None,
        ),
        "LeaseToken.encode": LEASE.encode(),
        "Event.encode": EVENT.encode(),
        "WorkflowRecord.dump": WORKFLOW.dump(),
        "encode_gates": encode_gates(FLOW.gates("one", payload), FLOW.unique_lock("one", payload)),
        "encode_gates:long_key": encode_gates(
            FLOW.gates("one", long_key), FLOW.unique_lock("one", long_key)
        ),
        "encode_gates:none": encode_gates({}, None),
        "FlowControl.unique_lock:input": FlowControl(unique_for_s=5).unique_lock("one", payload),
        "FlowControl.unique_lock:debounce": FlowControl(debounce_s=1).unique_lock("one", payload),
        "DeliveryAttempt.dump": ATTEMPT.dump(),
        "event_id_for": event_id_for("job1@emails", "https://example.com/hook"),
        "stats.minute_key": stats.minute_key(MS - MS % 60_000),
        "stats.le_label": " ".join(stats.le_label(b) for b in stats.DURATION_BUCKETS_S),
        # Written by scripts or a pipeline, not by a Python encoder: pinned for the decoders.
        "WaitingAt": WAITING_RAW,
        "WaitingAt:concurrency": '{"member":"0000000000001764000000123.0|x","on":"concurrency"}',
        "stats.hash": orjson.dumps(STATS_HASH),
    }
    return {name: v.decode("latin-1") if isinstance(v, bytes) else v for name, v in out.items()}


def raw(text: str) -> bytes:
    """The stored bytes of a golden value (kept as latin-1 text: one character per byte)."""
    return text.encode("latin-1")


def closed(open_text: str, name: str, ms: int) -> bytes:
    """What a script stores for an open JSON value: the server's time appended."""
    return raw(f'{open_text},"{name}":{ms}}}')


def test_codecs_write_the_golden_bytes() -> None:
    samples = codec_samples()
    if os.environ.get(CAPTURE_ENV):
        _write_golden("codecs", samples)
    assert samples == _golden("codecs")


def test_codecs_read_the_golden_bytes() -> None:
    g: dict[str, str] = _golden("codecs")
    assert JobDefinition.load(closed(g["JobDefinition.dump_open"], "et", MS)) == replace(
        DEFINITION, enqueued_ms=MS
    )
    assert JobDefinition.load(closed(g["JobDefinition.dump_open:stock"], "et", MS)) == (
        STOCK_DEFINITION
    )
    # A result has no decoder of its own (`jobs.reading.job_record` reads its fields): pin the
    # field names.
    assert orjson.loads(closed(g["result_data:failed"], "ft", MS + 9)) == {
        "t": 3,
        "f": "numbered",
        "a": [{"n": 1}],
        "et": MS,
        "s": False,
        "r": {"type": "JobFailed", "message": "no", "retryable": False},
        "status": "failed",
        "k": {"k": 1},
        "st": MS + 5,
        "w": "host:123:abcdef",
        "p": 4,
        "ft": MS + 9,
    }
    assert orjson.loads(closed(g["result_data:aborted"], "ft", MS))["status"] == "aborted"
    assert LeaseToken.parse(raw(g["LeaseToken.encode"])) == LEASE
    assert Event.parse(raw(g["Event.encode"])) == EVENT
    assert WorkflowRecord.load(raw(g["WorkflowRecord.dump"])) == replace(
        WORKFLOW,
        after={"on_complete": ["0", "1"]},  # empty edge lists are not stored
    )
    assert orjson.loads(raw(g["encode_gates"])) == {
        "c": "c:one:acme",
        "n": 2,
        "r": "r:one:acme",
        "t": 2_000_000,
        "b": 3,
        "u": "one:acme",
    }
    assert DeliveryAttempt.load(raw(g["DeliveryAttempt.dump"])) == ATTEMPT
    # `wait` as flow.lua writes it (JSON with on, gate, member, until)
    assert WaitingAt.parse(raw(g["WaitingAt"])) == WAITING
    assert WaitingAt.parse(raw(g["WaitingAt:concurrency"])) == WaitingAt("concurrency", None)
    snapshot = stats.parse({k: int(v) for k, v in orjson.loads(raw(g["stats.hash"])).items()})
    assert snapshot.outcomes == {("numbered", "complete"): 2}
    assert snapshot.durations["numbered"].buckets == {"0.01": 2}
    assert (snapshot.durations["numbered"].count, snapshot.durations["numbered"].sum_s) == (
        2,
        0.007,
    )
    assert (snapshot.pickup.buckets, snapshot.pickup.count) == ({"+Inf": 1}, 1)


# --- part b: the layout in Redis -----------------------------------------------------------

WEBHOOK_URL = "https://example.com/hook"
WORKER = "golden:1:000000"
"""The id of the heartbeat written directly (the burst worker's own id is random)."""
TEST_PREFIXES = ("test:", "tests:")
"""Keys the test jobs write for their own assertions: not the service's layout."""


async def run_scenario(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> dict[str, str]:
    """Write a fixed set of jobs through the real code; returns the random ids it made, with
    the stable names to show them as."""
    s = settings.model_copy(update={"webhook_secret": SecretStr("golden-secret")})

    async def put(job: str, payload: dict[str, Any], job_id: str, **options: Any) -> None:
        await enqueue(redis, job, payload, job_id=job_id, settings=s, **options)

    await put("numbered", {"n": 1}, "plain")
    await put("numbered", {"n": 2, "fail": True}, "fails", priority=2)
    await put("numbered", {"n": 3}, "ranked", priority=5)
    await put("numbered", {"n": 4}, "later", defer_by=3600, expires_in=7200)
    await put("numbered", {"n": 5}, "ranked-later", defer_by=3600, priority=3)
    await put("numbered", {"n": 6}, "doomed", defer_by=3600)
    await put("numbered", {"n": 7}, "idem", idempotency_key="key-1")
    await put("record_start", {"label": "r", "retry_first_s": 0.05}, "retried")
    await put("gather", {"n": 8}, "child", after=["plain"])
    await put("gather", {"n": 9}, "waits", after=["later"], on_parent_failure="ignore")
    await put("numbered", {"n": 10}, "hooked", defer_by=3600, callback_url=WEBHOOK_URL)
    await put("on_emails_queue", {}, "mail")  # no worker serves `emails`: stays queued
    await put("three_at_a_time", {"label": "c"}, "gated")
    await put("one_per_customer", {"label": "h", "customer": "acme"}, "gated-later", defer_by=3600)
    await put("unique_by_customer", {"label": "u", "customer": "acme"}, "uniq", defer_by=3600)
    await put("twenty_a_second", {"label": "t"}, "rated")
    await enqueue_cron_tick(
        redis, load_catalog(s)["numbered"], {"n": 11}, "golden", 1_700_000_040_000, s
    )
    batch = await create_batch(
        redis,
        s,
        [task("numbered", {"n": 12}), task("numbered", {"n": 13, "fail": True})],
        on_complete=task("batch_callback", {"n": 14}),
    )
    assert await abort(redis, "doomed", s) == "aborted"
    # Enqueued by a newer release (a name nothing here declares): the worker puts it back for
    # a worker that knows it, and the queue lists it as unknown.
    seconds, micros = await redis.time()
    newer = {"t": 1, "f": "from_the_next_release", "a": [{}], "k": {}, "et": seconds * 1000}
    await redis.set(keys.of_job("newer").job("newer"), orjson.dumps(newer))
    await redis.zadd(s.queue_name, {"newer": seconds * 1000 + micros // 1000})

    worker = await run_worker()

    await heartbeat.beat(redis, WORKER, [keys.queue("emails")], 1.0, {"queues": ["emails"]})
    attempt = ATTEMPT.model_copy(update={"event_id": event_id_for("plain", WEBHOOK_URL)})
    await record_attempt(redis, "plain", attempt)
    names = {worker.worker_id: "<worker>", batch.id: "<batch>"}
    names |= {job_id: f"<batch.{i}>" for i, job_id in enumerate(batch.jobs)}
    names |= {job_id: f"<batch.{name}>" for name, job_id in batch.callbacks.items()}
    return names


def normalizer(names: dict[str, str]) -> Callable[[str], str]:
    """Text with what varies run to run replaced: the given random ids, claim ids (the
    worker's id and a counter of its claim calls), 16-digit numbers (server µs, or the
    listing's and failed registry's `ms * 1000 + position` scores) and server ms (13 digits,
    with a due score's sub-ms fraction)."""
    ids = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))

    def normalize(text: str) -> str:
        text = ids.sub(lambda m: names[m.group()], text)
        text = re.sub(r"<worker>:\d+", "<claim>", text)
        text = re.sub(r"(?<!\d)\d{16}(?![\d])", "<us>", text)
        return re.sub(r"(?<!\d)\d{13}(\.\d+)?(?![\d])", "<ms>", text)

    return normalize


def _text(raw: bytes) -> str:
    return raw.decode("latin-1")


async def snapshot(redis: RedisClient, names: dict[str, str]) -> dict[str, Any]:
    """Every key (normalised name) -> its type, whether it expires, and its normalised value."""
    norm = normalizer(names)
    out: dict[str, Any] = {}
    minutes: dict[str, int] = {}
    async for raw_key in redis.scan_iter(count=1000):
        key = _text(raw_key)
        if key.startswith(TEST_PREFIXES) or key.endswith(":wake"):
            # `wake`: producers push and idle workers pop; its length is a race, not layout
            continue
        kind = _text(await redis.type(raw_key))
        ttl = "ttl>0" if await redis.pttl(raw_key) > 0 else "no ttl"
        value: Any
        if key.startswith(keys.MINUTE):
            # per-minute counts: the run may straddle a minute, so the minutes are summed
            for field, count in (await redis.hgetall(raw_key)).items():  # type: ignore[misc]
                minutes[_text(field)] = minutes.get(_text(field), 0) + int(count)
            out[keys.MINUTE + "<ms>"] = {"type": kind, "ttl": ttl, "value": minutes}
            continue
        if kind == "string":
            value = norm(_text(await redis.get(raw_key)))
            if key.endswith(":health-check"):
                value = _health_check(value)
        elif kind == "hash":
            entries: dict[bytes, bytes] = await redis.hgetall(raw_key)  # type: ignore[misc]
            fields = {norm(_text(f)): norm(_text(v)) for f, v in entries.items()}
            value = dict(sorted(_hash_fields(key, fields).items()))
        elif kind == "zset":
            scored = await redis.zrange(raw_key, 0, -1, withscores=True, score_cast_func=bytes)
            # sorted after normalising: equal times (and so order) are a race between jobs
            value = sorted([norm(_text(m)), norm(_text(sc))] for m, sc in scored)
        elif kind == "set":
            value = sorted(norm(_text(m)) for m in await redis.smembers(raw_key))  # type: ignore[misc]
        elif kind == "list":
            value = [norm(_text(i)) for i in await redis.lrange(raw_key, 0, -1)]  # type: ignore[misc]
        else:  # no streams in the layout; a new type shows up as a diff all the same
            value = f"<{kind}>"
        name = norm(key)
        assert name not in out, f"two keys normalise to {name}"
        out[name] = {"type": kind, "ttl": ttl, "value": value}
    return dict(sorted(out.items()))


def _health_check(text: str) -> str:
    """ARQ's health check: `worker={id} {info}`, the info a Python dict of the worker's counts
    at its last beat (a race with the jobs): its field names are kept, not its values."""
    prefix, _, info = text.partition(" ")
    fields = ast.literal_eval(info)
    assert isinstance(fields, dict), text
    return f"{prefix} {sorted(fields)}"


def _hash_fields(key: str, fields: dict[str, str]) -> dict[str, str]:
    """The stats hash's durations vary with the machine: its bucket of a duration becomes
    `<le>` (the counts per job summed) and its sums `<n>`; counts and outcomes stay."""
    if key != keys.STATS:
        if key.endswith(":seq"):  # jobs enqueued in the current ms: a race with the clock
            fields["n"] = "<n>"
        return fields
    out: dict[str, str] = {}
    for field, value in fields.items():
        if "_sum_" in field:
            out[field] = "<n>"
        elif "_bucket:" in field:
            field = field.rsplit(":", 1)[0] + ":<le>"
            out[field] = str(int(out.get(field, "0")) + int(value))
        else:
            out[field] = value
    return out


async def test_redis_layout_is_golden(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    names = await run_scenario(redis, settings, run_worker)
    layout = await snapshot(redis, names)
    if os.environ.get(CAPTURE_ENV):
        _write_golden("redis", layout)
    golden: dict[str, Any] = _golden("redis")
    assert _lines(layout) == _lines(golden)  # line by line: a failure shows which key changed


def _lines(layout: dict[str, Any]) -> list[str]:
    return [
        f"{k} {orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()}" for k, v in layout.items()
    ]


# --- the golden file ------------------------------------------------------------------------


def _golden(part: str) -> Any:
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} is missing: run python -m tests.golden.capture")
    return orjson.loads(GOLDEN.read_bytes())[part]


def _write_golden(part: str, value: Any) -> None:
    data = orjson.loads(GOLDEN.read_bytes()) if GOLDEN.exists() else {}
    data[part] = value
    GOLDEN.write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )

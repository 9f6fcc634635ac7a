"""Traces across processes, end to end: a real web process and a real worker with the standard
`OTEL_*` environment export to an OTLP/HTTP receiver started here (`tests.support.
otlp_receiver`); one trace holds the request, every try of its job, its webhook delivery and a
job enqueued from inside a job. Unset, nothing is sent and nothing is stored."""

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from jobs.layout import keys
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver
from tests.support.processes import Processes, exit_code, sigterm
from tests.support.waiting import eventually
from tests.support.webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.e2e

JOBS = "tests.support.jobs.probe_jobs,tests.support.jobs.tracing_jobs"
PARENT_SPAN = "00f067aa0ba902b7"
"""The caller's span, in the `traceparent` the test sends."""
SERVER, CLIENT, CONSUMER = 2, 3, 5
ERROR = 2


def traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{PARENT_SPAN}-01"


def env(hooks: Receiver, **more: str) -> dict[str, str]:
    return {
        "JOB_MODULES": JOBS,
        "LOG_FORMAT": "json",
        "WEBHOOK_SECRET": "e2e-secret",
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_ALLOWED_PORTS": str(hooks.port),
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # ms: spans leave within a blink, not 5 s
        **more,
    }


async def final(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    view: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal view
        view = (await client.get(f"/jobs/{job_id}", params={"wait": 5})).json()
        return view["status"] in ("complete", "failed", "aborted")

    await eventually(done, timeout_s=20)
    return view


async def spans_of(otlp: OtlpReceiver, trace_id: str, *names: str) -> list[ReceivedSpan]:
    """The trace's spans once it holds a span of each name in `names` (repeated: that many)
    and the parent of each (but the caller's): each process exports on its own schedule."""

    async def arrived() -> bool:
        spans = otlp.trace(trace_id)
        got = [s.name for s in spans]
        ids = {s.span_id for s in spans} | {PARENT_SPAN}
        return all(got.count(n) >= names.count(n) for n in names) and all(
            s.parent_span_id in ids for s in spans
        )

    await eventually(arrived, timeout_s=20)
    return otlp.trace(trace_id)


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    [span] = [s for s in spans if s.name == name]
    return span


async def test_one_trace_holds_the_request_every_try_its_webhook_and_a_child_job(
    processes: Processes,
) -> None:
    trace, child_trace = "4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"
    with otlp_receiver() as otlp, webhook_receiver() as hooks:
        traced = env(hooks, OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)
        url = await processes.web(**traced)
        await processes.worker(**traced)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            answer = await client.post(
                "/jobs/ping",
                json={"fail_times": 1},  # fails its first try, completes its second
                params={"callback_url": hooks.url()},
                headers={"traceparent": traceparent(trace)},
            )
            assert answer.status_code == 202, answer.text
            job = answer.json()
            assert (await final(client, job["id"]))["tries"] == 2
            answer = await client.post(
                "/jobs/spawn_child", json={}, headers={"traceparent": traceparent(child_trace)}
            )
            spawner = await final(client, answer.json()["id"])
            child_id = spawner["result"]["child_id"]
            assert (await final(client, child_id))["status"] == "complete"

        spans = await spans_of(
            otlp, trace, "job ping", "job ping", "job jobsvc.deliver_webhook", "webhook POST"
        )
        [request] = [s for s in spans if s.kind == SERVER]
        assert request.service == "jobservice-web" and request.parent_span_id == PARENT_SPAN
        assert request.attributes["http.request.method"] == "POST"
        web_spans = {s.span_id for s in spans if s.service == "jobservice-web"}

        tries = sorted(
            (s for s in spans if s.name == "job ping"), key=lambda s: s.attributes["job.try"]
        )
        assert [(s.attributes["job.try"], s.attributes["job.outcome"]) for s in tries] == [
            (1, "retry"),
            (2, "complete"),
        ]
        for span in tries:
            assert span.service == "jobservice-worker" and span.kind == CONSUMER
            assert span.attributes["job.id"] == job["id"]
            assert span.attributes["job.queue"] == "arq:queue"
            assert span.parent_span_id in web_spans  # the enqueue's span, in the web
        assert "job.retry_delay_ms" in tries[0].attributes
        assert "exception" in tries[0].events and tries[0].status_code == ERROR
        assert "job.retry_delay_ms" not in tries[1].attributes

        delivery = one(spans, "job jobsvc.deliver_webhook")
        assert delivery.parent_span_id in web_spans  # created with the job, by the request
        post = one(spans, "webhook POST")
        assert post.kind == CLIENT and post.parent_span_id == delivery.span_id
        assert post.attributes["webhook.outcome"] == "delivered"
        [hook] = hooks.requests("/hook")
        assert hook.headers["traceparent"] == f"00-{trace}-{post.span_id}-01"

        family = await spans_of(otlp, child_trace, "job spawn_child", "job ping")
        spawn = one(family, "job spawn_child")
        child = one(family, "job ping")
        assert child.attributes["job.id"] == child_id
        assert child.parent_span_id == spawn.span_id  # enqueued inside the spawner's try

    lines = [json.loads(x) for x in processes.log_text("worker").splitlines() if x[:1] == "{"]
    started = [x for x in lines if x["msg"] == "job started" and x.get("job_id") == job["id"]]
    assert [x["trace_id"] for x in started] == [trace, trace]
    assert {x["span_id"] for x in started} == {s.span_id for s in tries}
    lines = [json.loads(x) for x in processes.log_text("web").splitlines() if x[:1] == "{"]
    [enqueued] = [x for x in lines if x["msg"] == "job enqueued" and x["job_id"] == job["id"]]
    assert enqueued["trace_id"] == trace and enqueued["span_id"] in web_spans


async def stored_definition(processes: Processes, job_id: str) -> dict[str, Any]:
    raw = await processes.redis.get(keys.of_job(job_id).job(job_id))
    assert raw is not None
    stored: dict[str, Any] = orjson.loads(raw)
    return stored


async def test_a_deferred_job_stores_its_enqueues_trace_context(processes: Processes) -> None:
    trace = "5bf92f3577b34da6a3ce929d0e0e4736"
    with otlp_receiver() as otlp, webhook_receiver() as hooks:
        named = env(hooks, OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint, OTEL_SERVICE_NAME="orders")
        url = await processes.web(**named)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            answer = await client.post(
                "/jobs/ping",
                json={},
                params={"defer_by": 60},
                headers={"traceparent": traceparent(trace)},
            )
        stored = await stored_definition(processes, answer.json()["id"])
        version, trace_id, span_id, flags = stored["tp"].split("-")
        assert (version, trace_id, flags) == ("00", trace, "01")

        async def exported() -> bool:  # the web's span current at the enqueue
            return span_id in {s.span_id for s in otlp.trace(trace)}

        await eventually(exported, timeout_s=20)
    [stored_span] = [s for s in otlp.trace(trace) if s.span_id == span_id]
    assert stored_span.service == "orders"  # OTEL_SERVICE_NAME, read by the SDK


@contextmanager
def on_default_otlp_port() -> Iterator[OtlpReceiver | None]:
    """A receiver on the OTLP default (127.0.0.1:4318), where an SDK set up with defaults would
    send; None if another program holds the port."""
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 4318))
    except OSError:
        probe.close()
        yield None
        return
    probe.close()
    with otlp_receiver(port=4318) as otlp:
        yield otlp


async def test_without_the_endpoint_nothing_is_sent_and_nothing_is_stored(
    processes: Processes,
) -> None:
    trace = "6bf92f3577b34da6a3ce929d0e0e4736"
    # Every other OTEL_* variable set: the endpoint alone turns tracing on.
    untraced = {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_SERVICE_NAME": "jobs-untraced"}
    with on_default_otlp_port() as otlp, webhook_receiver() as hooks:
        url = await processes.web(**env(hooks, **untraced))
        await processes.worker(**env(hooks, **untraced))
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            sent = {"traceparent": traceparent(trace)}
            deferred = await client.post(
                "/jobs/ping", json={}, params={"defer_by": 60}, headers=sent
            )
            ran = await client.post(
                "/jobs/ping", json={}, params={"callback_url": hooks.url()}, headers=sent
            )
            assert (await final(client, ran.json()["id"]))["status"] == "complete"
            stored = await stored_definition(processes, deferred.json()["id"])

            async def delivered() -> bool:
                return len(hooks.requests("/hook")) == 1

            await eventually(delivered, timeout_s=20)
        for process in processes.started:  # a graceful exit: what a process would flush
            sigterm(process)
            await exit_code(process, 20)  # uvicorn ends by its signal again: -15
        assert otlp is None or otlp.posts == 0
    assert "tp" not in stored
    [hook] = hooks.requests("/hook")
    assert "traceparent" not in {k.lower() for k in hook.headers}
    lines = [json.loads(x) for x in processes.log_text("worker").splitlines() if x[:1] == "{"]
    assert any(x["msg"] == "job started" for x in lines)
    assert not any("trace_id" in x for x in lines)


async def test_workflow_and_batch_nodes_join_their_request_and_a_cron_tick_is_a_root(
    processes: Processes,
) -> None:
    workflow_trace, batch_trace = (
        "7bf92f3577b34da6a3ce929d0e0e4736",
        "8bf92f3577b34da6a3ce929d0e0e4736",
    )
    with otlp_receiver() as otlp, webhook_receiver() as hooks:
        traced = env(
            hooks,
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint,
            JOB_MODULES=f"{JOBS},tests.support.jobs.cron_jobs",  # a tick every second
        )
        url = await processes.web(**traced)
        await processes.worker(**traced)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            workflow = {
                "nodes": {
                    "a": {"job": "ping", "input": {"message": "a"}},
                    "b": {"job": "ping", "input": {"message": "b"}, "after": ["a"]},
                }
            }
            answer = await client.post(
                "/workflows", json=workflow, headers={"traceparent": traceparent(workflow_trace)}
            )
            assert answer.status_code == 202, answer.text
            batch = {
                "jobs": [{"job": "ping", "input": {}}, {"job": "ping", "input": {}}],
                "on_complete": {"job": "ping", "input": {"message": "all done"}},
            }
            answer = await client.post(
                "/batches", json=batch, headers={"traceparent": traceparent(batch_trace)}
            )
            assert answer.status_code == 202, answer.text

        for trace, nodes in ((workflow_trace, 2), (batch_trace, 3)):
            spans = await spans_of(otlp, trace, *["job ping"] * nodes)
            web_spans = {s.span_id for s in spans if s.service == "jobservice-web"}
            pings = [s for s in spans if s.name == "job ping"]
            assert len({s.attributes["job.id"] for s in pings}) == nodes
            # Each node was created by the request: its tries are that request's children.
            assert all(s.parent_span_id in web_spans for s in pings)

        async def ticked() -> bool:
            ticks = {s.span_id: s for s in otlp.received() if s.name == "cron tick"}
            return any(
                s.name == "job count_cron_tick" and s.parent_span_id in ticks
                for s in otlp.received()
            )

        await eventually(ticked, timeout_s=20)
    ticks = [s for s in otlp.received() if s.name == "cron tick"]
    assert all(s.parent_span_id == "" for s in ticks)  # each tick a trace of its own
    assert len({s.trace_id for s in ticks}) == len(ticks)
    assert {s.attributes["cron.schedule"] for s in ticks} == {"count_cron_tick"}


async def test_spans_still_batched_are_sent_when_the_processes_stop(
    processes: Processes,
) -> None:
    trace = "9bf92f3577b34da6a3ce929d0e0e4736"
    with otlp_receiver() as otlp, webhook_receiver() as hooks:
        # A batch delay far past the test: only the flush at exit sends anything.
        slow = env(
            hooks, OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY="600000"
        )
        url = await processes.web(**slow)
        await processes.worker(**slow)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            answer = await client.post(
                "/jobs/ping", json={}, headers={"traceparent": traceparent(trace)}
            )
            assert (await final(client, answer.json()["id"]))["status"] == "complete"
        assert otlp.trace(trace) == []
        for process in processes.started:
            sigterm(process)
            await exit_code(process, 20)
        spans = otlp.trace(trace)
    assert {(s.service, s.name) for s in spans} >= {
        ("jobservice-web", "POST /jobs/ping"),
        ("jobservice-worker", "job ping"),
    }

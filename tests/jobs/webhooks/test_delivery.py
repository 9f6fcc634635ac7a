"""Completion webhooks: delivered signed by a real worker to a real HTTP receiver, retried on
failure, refused for private addresses, never redirected; attempts visible over HTTP."""

import json
import socket
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus
from jobs.webhooks.delivery import NO_ANSWER
from jobs.webhooks.signing import verify_signature
from jobs.webhooks.url_policy import check_url
from settings import Settings
from tests.support.webhook_receiver import deliver_after_final, final_record, webhook_receiver
from tests.support.workers import worker_in_background


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, signing with `new` (and `old` still listed), http:// and loopback
    allowed (the receiver is local), retries within milliseconds."""
    return settings.model_copy(
        update={
            "webhook_secrets": [SecretStr("new"), SecretStr("old")],
            "webhook_allow_http": True,
            "webhook_allow_private": True,
            "webhook_backoff_base_s": 0.01,
            "webhook_backoff_max_s": 0.05,
        }
    )


async def test_a_final_job_is_delivered_signed_with_its_jobview(
    settings: Settings, redis: RedisClient
) -> None:
    with webhook_receiver() as receiver:
        settings = receiver.allowed_in(settings)
        async with worker_in_background(settings, redis):
            parent_id, delivery_id, event_id = await deliver_after_final(
                redis, settings, receiver.url()
            )
            delivery = await final_record(redis, delivery_id)
    assert delivery.status is JobStatus.complete
    assert delivery.result == {
        "event_id": event_id,
        "url": receiver.url(),
        "attempts": 1,
        "status_code": 200,
    }
    [request] = receiver.requests("/hook")
    signature = request.headers["X-Signature"]
    assert verify_signature(request.body, signature, ["new"])
    assert verify_signature(request.body, signature, ["old", "new"])  # a receiver mid-rotation
    assert not verify_signature(request.body, signature, ["old"])  # signed with the first only
    assert request.headers["X-Webhook-Id"] == event_id
    assert request.headers["Content-Type"] == "application/json"
    view = json.loads(request.body)
    assert view["id"] == parent_id
    assert view["status"] == "complete"
    assert view["result"]["message"] == "hello"


async def test_a_failing_receiver_gets_retries_with_the_same_event_id(
    settings: Settings, redis: RedisClient, client: httpx.AsyncClient
) -> None:
    with webhook_receiver(answers=[500, 500]) as receiver:
        settings = receiver.allowed_in(settings)
        async with worker_in_background(settings, redis):
            parent_id, delivery_id, event_id = await deliver_after_final(
                redis, settings, receiver.url()
            )
            delivery = await final_record(redis, delivery_id)
    assert delivery.status is JobStatus.complete
    assert delivery.result is not None and delivery.result["attempts"] == 3
    requests = receiver.requests()
    assert [r.headers["X-Webhook-Id"] for r in requests] == [event_id] * 3
    assert [r.headers["X-Webhook-Attempt"] for r in requests] == ["1", "2", "3"]

    response = await client.get(f"/jobs/{parent_id}/deliveries")
    assert response.status_code == 200
    attempts = response.json()
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]
    assert {a["event_id"] for a in attempts} == {event_id}
    assert all(a["url"] == receiver.url() and a["duration_ms"] >= 0 for a in attempts)
    assert attempts[0]["at"] <= attempts[1]["at"] <= attempts[2]["at"]

    metrics = await _metrics(client)
    assert metrics[("jobsvc_webhook_attempts_total", (("outcome", "failed"),))] == 2
    assert metrics[("jobsvc_webhook_attempts_total", (("outcome", "delivered"),))] == 1
    assert metrics[("jobsvc_webhook_duration_seconds_count", ())] == 3


async def test_a_name_resolving_to_loopback_is_refused_at_delivery_without_connecting(
    settings: Settings, redis: RedisClient, client: httpx.AsyncClient
) -> None:
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with webhook_receiver() as receiver:
        strict = receiver.allowed_in(strict)
        url = receiver.url(host="localhost")
        check_url(url, strict)  # a name passes at enqueue: only its addresses can tell
        async with worker_in_background(strict, redis):
            parent_id, delivery_id, _ = await deliver_after_final(redis, strict, url)
            delivery = await final_record(redis, delivery_id)
        assert receiver.requests() == []
    assert delivery.status is JobStatus.failed
    assert delivery.tries == 1  # refused for good: not retried
    assert delivery.error is not None and "non-public address" in delivery.error.message
    [attempt] = (await client.get(f"/jobs/{parent_id}/deliveries")).json()
    assert attempt["outcome"] == "refused"
    assert attempt["status_code"] is None
    assert attempt["error"] == (
        "localhost resolves to a non-public address; set WEBHOOK_ALLOW_PRIVATE=true to allow it"
    )  # not which address: any client reads this
    assert "127.0.0.1" not in delivery.error.message and "::1" not in delivery.error.message


async def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(
    settings: Settings, redis: RedisClient, client: httpx.AsyncClient
) -> None:
    two_attempts = settings.model_copy(update={"webhook_max_attempts": 2})
    with webhook_receiver(answers=[302, 302]) as receiver:
        two_attempts = receiver.allowed_in(two_attempts)
        async with worker_in_background(two_attempts, redis):
            parent_id, delivery_id, _ = await deliver_after_final(
                redis, two_attempts, receiver.url()
            )
            delivery = await final_record(redis, delivery_id)
        assert len(receiver.requests("/hook")) == 2
        assert receiver.requests("/target") == []
    assert delivery.status is JobStatus.failed
    assert delivery.error is not None
    assert delivery.error.message == "gave up after 2 attempts: HTTP 302"
    attempts = (await client.get(f"/jobs/{parent_id}/deliveries")).json()
    assert [(a["outcome"], a["status_code"]) for a in attempts] == [("failed", 302)] * 2


async def test_deliveries_of_an_unknown_job_are_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/jobs/no-such-job/deliveries")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


async def test_a_job_without_deliveries_lists_none(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    job = await enqueue(redis, "ping", {}, settings=settings)
    response = await client.get(f"/jobs/{job.job_id}/deliveries")
    assert response.status_code == 200
    assert response.json() == []


async def _metrics(client: httpx.AsyncClient) -> dict[tuple[str, Any], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


async def test_the_query_is_sent_but_shown_redacted(
    settings: Settings, redis: RedisClient, client: httpx.AsyncClient
) -> None:
    with webhook_receiver() as receiver:
        settings = receiver.allowed_in(settings)
        url = receiver.url("/hook?token=s3cret")
        async with worker_in_background(settings, redis):
            parent_id, delivery_id, _ = await deliver_after_final(redis, settings, url)
            delivery = await final_record(redis, delivery_id)
        [request] = receiver.requests()
    assert request.path == "/hook?token=s3cret"  # the delivery uses the full URL
    shown = receiver.url("/hook?<redacted>")
    assert delivery.status is JobStatus.complete and delivery.result is not None
    assert delivery.result["url"] == shown
    [attempt] = (await client.get(f"/jobs/{parent_id}/deliveries")).json()
    assert attempt["url"] == shown
    view = (await client.get(f"/jobs/{delivery_id}")).json()
    assert view["input"]["url"] == shown
    assert "s3cret" not in (await client.get(f"/jobs/{delivery_id}")).text


async def test_a_network_failure_is_recorded_without_saying_which(
    settings: Settings, redis: RedisClient, client: httpx.AsyncClient
) -> None:
    """A closed port, a reset or a TLS failure read the same in `/deliveries`: a callback URL
    is no port scanner. The cause goes to the worker's log."""
    with socket.socket() as closed:  # bound, never listening: connecting is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        one_attempt = settings.model_copy(
            update={"webhook_max_attempts": 1, "webhook_allowed_ports": [port]}
        )
        async with worker_in_background(one_attempt, redis):
            parent_id, delivery_id, _ = await deliver_after_final(
                redis, one_attempt, f"http://127.0.0.1:{port}/hook"
            )
            delivery = await final_record(redis, delivery_id)
    assert delivery.error is not None
    assert delivery.error.message == f"gave up after 1 attempts: {NO_ANSWER}"
    [attempt] = (await client.get(f"/jobs/{parent_id}/deliveries")).json()
    assert (attempt["outcome"], attempt["error"]) == ("failed", NO_ANSWER)
    assert "refused" not in json.dumps(attempt).lower()

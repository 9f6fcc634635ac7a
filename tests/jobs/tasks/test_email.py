"""`send_email` speaks real SMTP: an aiosmtpd server in the test receives the message."""

from collections.abc import Iterator
from email import message_from_bytes

import pytest

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from scripts.embedded_redis import free_port
from settings import Settings
from tests.support.smtp_inbox import Inbox, smtp_inbox
from tests.support.workers import RunWorker


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as server:
        yield server


async def test_send_email_delivers_over_smtp(
    smtp_server: tuple[Inbox, int], redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    inbox, port = smtp_server
    payload = {"to": "ada@example.com", "subject": "Report ready", "body": "See attachment."}
    enqueued = await enqueue(redis, "send_email", payload, settings=settings)
    await run_worker(smtp_port=port)
    record = await load_job(redis, enqueued.job_id, {})
    assert record is not None and record.status is JobStatus.complete, record
    assert len(inbox.messages) == 1
    received = message_from_bytes(inbox.messages[0])
    assert received["To"] == "ada@example.com" and received["Subject"] == "Report ready"
    assert received["Message-ID"].strip() == record.result["message_id"]
    assert "See attachment." in received.get_payload()


async def test_unreachable_smtp_server_is_retried(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    payload = {"to": "ada@example.com", "subject": "s", "body": "b"}
    enqueued = await enqueue(redis, "send_email", payload, settings=settings)
    # Nothing listens on that port; send_email's own backoff policy is the settings' here.
    await run_worker(smtp_port=free_port(), backoff_base_s=0.001, backoff_max_s=0.002)
    record = await load_job(redis, enqueued.job_id, {})
    assert record is not None and record.status is JobStatus.failed and record.tries == 5
    # Every try failed with a retryable error; with the tries spent, none will follow.
    assert record.error is not None and record.error.type == "SMTPConnectError"
    assert record.error.retryable is False

"""A real HTTP server for webhook tests (stdlib `http.server` in a thread), answering from a
script and recording every request it gets; and how a test runs a job and its delivery."""

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, load_job
from jobs.webhooks.delivery import DeliverWebhook
from jobs.webhooks.signing import event_id_for
from settings import Settings
from tests.support.waiting import eventually


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    answers: list[int] = field(default_factory=list)
    """Statuses to answer, in order; 200 once they run out."""
    redirect_to: str = "/target"
    """The `Location` of a 3xx answer."""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def allowed_in(self, settings: Settings) -> Settings:
        """`settings` with this receiver's (random) port in `WEBHOOK_ALLOWED_PORTS`."""
        return settings.model_copy(update={"webhook_allowed_ports": [self.port]})

    def requests(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]

    def _next_status(self) -> int:
        with self.lock:
            return self.answers.pop(0) if self.answers else 200


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_POST(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with receiver.lock:
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
        status = receiver._next_status()
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", receiver.redirect_to)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@contextmanager
def webhook_receiver(
    answers: list[int] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A receiver on a free loopback port (HTTPS with `tls`), stopped when the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver = Receiver(port=server.server_address[1], answers=list(answers or []))
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def final_record(redis: RedisClient, job_id: str) -> JobRecord:
    record: JobRecord | None = None

    async def done() -> bool:
        nonlocal record
        record = await load_job(redis, job_id, {})
        return record is not None and record.status.is_final

    await eventually(done)
    assert record is not None
    return record


async def deliver_after_final(
    redis: RedisClient, settings: Settings, url: str
) -> tuple[str, str, str]:
    """Run a `ping` to its end, then enqueue its delivery to `url` (what the dependency on the
    job's final state will do): (parent id, delivery id, event id)."""
    parent = await enqueue(redis, "ping", {"message": "hello"}, settings=settings)
    await final_record(redis, parent.job_id)
    event_id = event_id_for(parent.job_id, url)
    payload = DeliverWebhook(job_id=parent.job_id, url=url, event_id=event_id)
    delivery = await enqueue(redis, "jobsvc.deliver_webhook", payload, settings=settings)
    return parent.job_id, delivery.job_id, event_id

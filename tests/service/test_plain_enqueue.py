"""A plain `POST /jobs/{name}` (small JSON body valid as sent, no options) is answered from the
route's ASGI `handle`; its answer is the full handler's, and a request it cannot answer reaches
the full handler with its body intact."""

import httpx
from starlette.types import Message, Scope

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from service.main import create_app
from settings import Settings

VARYING = ("id", "enqueued_at", "scheduled_for")


async def test_a_plain_enqueue_answers_as_the_full_handler(client: httpx.AsyncClient) -> None:
    body = {"message": "same"}
    plain = await client.post("/jobs/ping", json=body)
    full = await client.post("/jobs/ping", params={"priority": 0}, json=body)  # an option: full
    assert plain.status_code == full.status_code == 202
    assert plain.headers["location"] == f"/jobs/{plain.json()['id']}"
    assert plain.headers["content-type"] == full.headers["content-type"]
    one, other = plain.json(), full.json()
    assert one["status"] == "queued" and one["input"]["message"] == "same"
    assert {k: v for k, v in one.items() if k not in VARYING} == {
        k: v for k, v in other.items() if k not in VARYING
    }
    seen = await client.get(plain.headers["location"])
    assert seen.json()["input"] == one["input"]


async def test_a_body_valid_only_once_coerced_reaches_the_full_handler_whole(
    client: httpx.AsyncClient,
) -> None:
    # `2.0` for an integer: strict validation refuses it, JSON Schema (and the full handler)
    # take it. The full handler reads the body the short path already read.
    answer = await client.post("/jobs/ping", json={"message": "m", "fail_times": 2.0})
    assert answer.status_code == 202
    assert answer.json()["input"] == {"message": "m", "sleep_s": 0.0, "fail_times": 2}
    refused = await client.post("/jobs/ping", json={"message": 5})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["loc"] == ["body", "message"]


async def test_a_client_gone_before_its_body_enqueues_nothing(
    settings: Settings, redis: RedisClient
) -> None:
    app = create_app(settings)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/jobs/ping",
        "raw_path": b"/jobs/ping",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"20")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent == []
    assert await redis.zcard(keys.queue(settings.queue_name).due) == 0

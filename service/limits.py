"""Request body size limit, answered with the service's JSON 413 (not Starlette's text one)."""

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PayloadTooLarge, error_body


class BodySizeLimit:
    """Refuse bodies over `max_bytes`: by Content-Length, or while a chunked body streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(_message(self.max_bytes))
            return message

        await self.app(scope, limited_receive, send)


def _message(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"


async def _too_large(send: Send, max_bytes: int) -> None:
    body = orjson.dumps(error_body(PayloadTooLarge.code, _message(max_bytes)))
    await send(
        {
            "type": "http.response.start",
            "status": PayloadTooLarge.status_code,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})

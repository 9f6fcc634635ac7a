"""Request body size limit, answered with the service's JSON 413 (not Starlette's text one)."""

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PayloadTooLarge, error_body


class BodySizeLimit:
    """Refuse bodies over `max_bytes`: by Content-Length, or while a chunked body streams.

    A chunked body over the limit is answered here, the moment it passes the limit, and the
    app is told the client left: raising from `receive` instead would reach FastAPI's body
    parsing, which turns any error there into a 400 "There was an error parsing the body".
    Whatever the app answers after that is dropped."""

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
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if started:  # the app answers already (it streams): nothing to replace
                        raise PayloadTooLarge(_message(self.max_bytes))
                    refused = True
                    await _too_large(send, self.max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 was sent; the app's answer to the "disconnect" goes nowhere
            started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


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

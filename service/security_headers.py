"""Security headers on every answer of the service, a pure ASGI middleware (it edits the start
message only, so event streams stream as before).

- every answer: `X-Content-Type-Options: nosniff` (a JSON body is never run as a script or
  rendered as a page) and `Referrer-Policy: no-referrer` (job ids in the dashboard's URL stay
  here);
- JSON: `Cache-Control: no-store` (job inputs and results stay out of caches);
- the dashboard and every other page: a Content Security Policy that allows only this
  origin's own script and style (no inline script, no plugin, no `<base>`, no form posting
  anywhere) and `frame-ancestors 'none'`, so no other site can frame the dashboard and trick a
  click onto its abort, retry or pause buttons; answers that are not pages get
  `default-src 'none'`. `/docs` and `/redoc` set a policy of their own (`docs_policy`).

A header the route set already is kept. Mounted into a host app (`service.embed`), the headers
cover the job service's paths only: the host's own pages are the host's to decide.
"""

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "object-src 'none'"
)
NOT_A_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_policy(html: str) -> str:
    """The policy for Swagger UI and ReDoc pages: their own inline start-up script (by hash),
    the inline styles their components write, images as `data:` URLs (Swagger UI's icons) and
    ReDoc's `blob:` worker; still no framing, no plugin."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; "
        "frame-ancestors 'none'; object-src 'none'"
    )


def _is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                content_type = headers.get("content-type", "")
                if _is_json(content_type):
                    headers.setdefault("Cache-Control", "no-store")
                page = content_type.startswith("text/html")
                headers.setdefault(
                    "Content-Security-Policy", PAGE_POLICY if page else NOT_A_PAGE_POLICY
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)

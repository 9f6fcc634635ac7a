"""API keys: with `API_KEYS` set, every path but `/health` and `/ready` needs a key, over HTTP
and websockets alike (a websocket without one is closed before it opens: a 403).

A small ASGI middleware rather than a route dependency, so nothing can slip through: static
files, `/docs`, `/openapi.json` and routes added later are covered without opting in.

The key comes as `Authorization: Bearer <key>` (API clients) or as the password of HTTP Basic
auth (the browser's prompt, for the dashboard). A 401 for the dashboard, to a browser opening
any page (`Accept: text/html`: `/`, which leads to the dashboard, or `/docs`), or to a request
a page of this service made (the dashboard's `X-Requested-By`, the browser's `Sec-Fetch-Site:
same-origin`, or a `Referer` from an older browser), carries a Basic challenge: the browser
then prompts once and re-sends the cached credentials to the API calls on its own. API
clients get `Bearer`, which no browser prompts for.

Read-only keys (`API_KEYS_READ`) pass for `GET` and `HEAD` only (a websocket opens with a
`GET`); any other method with one is a 403 `read_only_key`. A key in both lists is a full key.
Which scheme carried the key is left in the scope for the cross-site guard (`cross_site.py`):
a browser re-sends Basic credentials on its own, never a Bearer token.
"""

import base64
import binascii
import hmac
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import ReadOnlyKey, Unauthorized, send_error

OPEN_PATHS = frozenset({"/health", "/ready"})
READ_METHODS = frozenset({"GET", "HEAD"})
SCHEME_KEY = "jobsvc.auth_scheme"
"""Scope key: "basic" or "bearer", the scheme that carried a valid key (absent: none)."""
DASHBOARD_PREFIX = "/dashboard"
REALM = 'Basic realm="jobs"'
DASHBOARD_HEADER = "x-requested-by"
"""Sent by the dashboard's script with every API call (`service/dashboard/app.js`)."""


def presented_key(authorization: str | None) -> str | None:
    """The key in an `Authorization` header: a Bearer token or a Basic password."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer":
        return value or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def auth_scheme(authorization: str | None) -> str:
    """`basic`, `bearer` or whatever else the header names (lower case; "" for none)."""
    return (authorization or "").partition(" ")[0].lower()


def key_matches(key: str | None, allowed: list[str]) -> bool:
    """Constant-time comparison against every allowed key (no early exit)."""
    if key is None:
        return False
    given = key.encode()
    matched = False
    for candidate in allowed:
        matched |= hmac.compare_digest(given, candidate.encode())
    return matched


def _from_browser(path: str, headers: Headers) -> bool:
    """The dashboard, a browser opening a page, or a page of this service calling the API: the
    dashboard's script (its `X-Requested-By`), its event streams and `/docs`' "Try it out"
    (the browser's `Sec-Fetch-Site: same-origin`; pages send no `Referer`, see
    security_headers.py, but an older browser without Sec-Fetch headers may send one)."""
    if path.startswith(DASHBOARD_PREFIX) or "text/html" in headers.get("accept", ""):
        return True
    if headers.get(DASHBOARD_HEADER) or headers.get("sec-fetch-site") == "same-origin":
        return True
    referer: str = headers.get("referer", "")
    return DASHBOARD_PREFIX in urlsplit(referer).path


class ApiKeyMiddleware:
    """Answers 401 (the service's JSON error) to requests without a valid key, 403 to a
    read-only key asking for a change."""

    def __init__(
        self, app: ASGIApp, api_keys: Sequence[str], read_keys: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.api_keys = list(api_keys)
        self.read_keys = list(read_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Mounted under a prefix, `path` carries it (`root_path`): compare without it.
        path: str = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        # `lifespan` carries no request; every other scope (http, websocket) needs the key.
        keys_on = bool(self.api_keys or self.read_keys)
        if scope["type"] == "lifespan" or not keys_on or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorization = headers.get("authorization")
        key = presented_key(authorization)
        # Both lists compared in full, whatever the first says (no early exit).
        full, read = key_matches(key, self.api_keys), key_matches(key, self.read_keys)
        if full or read:
            if not full and scope.get("method", "GET") not in READ_METHODS:
                await send_error(scope, receive, send, ReadOnlyKey(READ_ONLY_MESSAGE))
                return
            scope[SCHEME_KEY] = auth_scheme(authorization)
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            # A websocket (or any other scope) without the key: closed before it is accepted,
            # which the server answers with a 403.
            await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
            return
        error = Unauthorized("a valid API key is required: Authorization: Bearer <key>")
        challenge = REALM if _from_browser(path, headers) else "Bearer"
        await send_error(scope, receive, send, error, {"WWW-Authenticate": challenge})


READ_ONLY_MESSAGE = "this API key may only read (GET, HEAD): changes need a key of API_KEYS"

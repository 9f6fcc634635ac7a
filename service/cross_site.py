"""No change on behalf of another site: a browser's credentials act only from this service's own
pages.

A browser re-sends the Basic credentials it cached for the dashboard with every request to this
origin, one that a page of another site starts too: a form posted across sites, a `fetch` with
`mode: "no-cors"`. Such a request cannot carry a header of its own choosing (a custom header
makes a cross-origin request "non-simple": the browser first asks with a preflight `OPTIONS`,
which this service never grants), and modern browsers say where it comes from (`Origin`,
`Sec-Fetch-Site`). So:

- A change (any method but GET, HEAD, OPTIONS) that says it comes from another site
  (`Sec-Fetch-Site: cross-site` or `same-site`, an `Origin` whose host is not the request's
  `Host`, `Origin: null`) is refused, with keys or without: without `API_KEYS` (local runs)
  nothing else stops a page of any site from making the operator's browser post to
  `localhost`. Clients that send neither header (curl, scripts, servers) are not concerned.
- A change authenticated by Basic credentials (the browser's kind) must also show it comes from
  this service's own pages: `X-Requested-By` (the dashboard's script sends `jobsvc-dashboard`),
  `Sec-Fetch-Site: same-origin`, or this site's `Origin`; and it may not carry a content type a
  plain HTML form can send (`application/x-www-form-urlencoded`, `multipart/form-data`,
  `text/plain`): the API takes JSON.
- Bearer tokens pass: a browser never adds one on its own.

Refused: 403 `cross_site_refused`, the message says which rule. One status for every rule,
rather than a 415 for the form types: the same body with a bearer token is accepted, so the
media type is not what is wrong.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.auth import DASHBOARD_HEADER, SCHEME_KEY
from service.errors import CrossSiteRefused, send_error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
OTHER_SITES = frozenset({"cross-site", "same-site"})  # a sibling subdomain is another app


def _foreign_origin(headers: Headers) -> str | None:
    """The `Origin` of a request from another host (or a `null` one), else None."""
    origin = headers.get("origin")
    if origin is None:
        return None
    host = urlsplit(origin).netloc if origin != "null" else ""
    return None if host and host == headers.get("host") else origin


def from_another_site(headers: Headers) -> str | None:
    """Why the browser says the request comes from another site, or None."""
    fetch_site = headers.get("sec-fetch-site", "").lower()
    if fetch_site in OTHER_SITES:
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = _foreign_origin(headers)
    return f"Origin: {origin}" if origin is not None else None


def unproven(headers: Headers) -> str | None:
    """Why a request with Basic credentials does not show it comes from our own pages."""
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        return f"a form's content type ({media_type}) with browser credentials; send JSON"
    same_origin = headers.get("sec-fetch-site", "").lower() == "same-origin"
    if headers.get(DASHBOARD_HEADER) or same_origin or "origin" in headers:
        return None  # a foreign Origin was refused before
    return (
        "browser (Basic) credentials without X-Requested-By, Sec-Fetch-Site: same-origin or "
        "this site's Origin"
    )


class CrossSiteGuard:
    """Answers 403 `cross_site_refused` to the changes the module doc describes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme = scope.get(SCHEME_KEY)  # set by ApiKeyMiddleware for a valid key
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or scheme == "bearer":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        reason = from_another_site(headers)
        if reason is None and scheme == "basic":
            reason = unproven(headers)
        if reason is None:
            await self.app(scope, receive, send)
            return
        error = CrossSiteRefused(
            f"refused: {reason}. A browser sends its credentials on its own, also for pages of "
            "other sites; API clients use Authorization: Bearer <key>"
        )
        await send_error(scope, receive, send, error)

"""Security headers on every answer (`service/security_headers.py`): the dashboard's CSP with
`frame-ancestors 'none'` (no clickjacking of its buttons), `nosniff` and `no-referrer`
everywhere, `no-store` on JSON; the docs pages with a policy of their own; mounted in a host
app, the job service's paths only."""

import base64
import hashlib
import re

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from jobs.layout.connection import RedisClient
from service.embed import with_jobs
from service.main import create_app
from settings import Settings

KEY = "s3cret-key-0123456789"


def _everywhere(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_the_dashboard_is_served_with_its_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard/")
    _everywhere(page)
    assert page.headers["content-security-policy"] == (
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
        "object-src 'none'"
    )
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline
    for asset in ("app.js", "style.css"):
        _everywhere(await client.get(f"/dashboard/{asset}"))


async def test_json_is_not_stored_and_not_a_page(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/queues"),
        await client.post("/jobs/ping", json={}),
        await client.get("/jobs/nope"),  # an error too
        await client.get("/openapi.json"),
    ):
        _everywhere(response)
        assert response.headers["cache-control"] == "no-store", response.request.url
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_refusals_from_outside_the_routes_carry_them_too(
    settings: Settings, redis: RedisClient
) -> None:
    app = create_app(settings.model_copy(update={"api_keys": [KEY], "max_request_bytes": 10}))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        unauthorized = await client.get("/queues")
        too_large = await client.post(
            "/jobs/ping", json={"message": "x" * 20}, headers={"Authorization": f"Bearer {KEY}"}
        )
    for response in (unauthorized, too_large):
        assert response.status_code in (401, 413)
        _everywhere(response)
        assert response.headers["cache-control"] == "no-store"


async def test_the_docs_allow_their_own_start_up_script_by_hash(client: httpx.AsyncClient) -> None:
    swagger = await client.get("/docs")
    _everywhere(swagger)
    policy = swagger.headers["content-security-policy"]
    [script] = re.findall(r"<script>(.*?)</script>", swagger.text, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    _everywhere(await client.get("/redoc"))


async def test_mounted_in_a_host_the_headers_cover_the_service_only(
    settings: Settings, redis: RedisClient
) -> None:
    jobs_app = create_app(settings)
    host = FastAPI(lifespan=with_jobs(jobs_app))

    @host.get("/shop", response_class=HTMLResponse)
    async def shop() -> str:
        return "<p>the host's own page</p>"

    host.mount("/jobsvc", jobs_app)
    async with host.router.lifespan_context(host):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            dashboard = await client.get("/jobsvc/dashboard/")
            own = await client.get("/shop")
    _everywhere(dashboard)
    assert dashboard.headers["content-security-policy"].startswith("default-src 'self'")
    assert "content-security-policy" not in own.headers  # the host decides for its pages

"""API keys: every route but /health and /ready needs one, whichever route is added later."""

import base64
import re
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from jobs.layout.connection import RedisClient
from service.auth import ApiKeyMiddleware
from service.main import create_app
from settings import Settings

KEY = "s3cret-key-0123456789"
OTHER = "another-key-0123456789"
OPEN = {"/health", "/ready"}


def _requests(routes: Sequence[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(method, concrete path) for every route the app serves, path parameters filled in;
    included routers are walked too, so a route added anywhere is in the list."""
    found: list[tuple[str, str]] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context_prefix = getattr(getattr(route, "include_context", None), "prefix", "")
            found += _requests(included.routes, prefix + context_prefix)
            continue
        path = prefix + re.sub(r"\{[^}]+\}", "x", getattr(route, "path", ""))
        if isinstance(route, Mount):
            found.append(("GET", path + "/index.html"))
            continue
        methods: set[str] = getattr(route, "methods", None) or {"GET"}
        found += [(m, path) for m in sorted(methods) if m != "HEAD"]
    return found


@pytest.fixture
async def keyed_app(settings: Settings, redis: RedisClient) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"api_keys": [OTHER, KEY]}))
    async with app.router.lifespan_context(app):
        yield app


def _client(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
    )


async def test_every_route_but_health_needs_a_key(keyed_app: FastAPI) -> None:
    routes = [(m, p) for m, p in _requests(keyed_app.routes) if p not in OPEN]
    assert ("GET", "/jobs") in routes and len(routes) > 8
    async with (
        _client(keyed_app) as anonymous,
        _client(keyed_app, {"Authorization": f"Bearer {KEY}"}) as keyed,
    ):
        for method, path in routes:
            denied = await anonymous.request(method, path, json={})
            assert denied.status_code == 401, (method, path)
            assert denied.json()["error"]["code"] == "unauthorized"
            allowed = await keyed.request(method, path, json={}, params={"wait": 0})
            assert allowed.status_code != 401, (method, path)


async def test_health_and_ready_need_no_key(keyed_app: FastAPI) -> None:
    async with _client(keyed_app) as anonymous:
        assert (await anonymous.get("/health")).status_code == 200
        assert (await anonymous.get("/ready")).status_code != 401


async def test_wrong_key_is_refused(keyed_app: FastAPI) -> None:
    async with _client(keyed_app, {"Authorization": "Bearer nope"}) as client:
        response = await client.get("/queues")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_dashboard_challenges_the_browser_and_takes_a_basic_password(
    keyed_app: FastAPI,
) -> None:
    basic = base64.b64encode(f"anyone:{KEY}".encode()).decode()
    async with _client(keyed_app) as anonymous:
        denied = await anonymous.get("/dashboard")
        from_page = await anonymous.get("/queues", headers={"Referer": "http://test/dashboard/"})
        allowed = await anonymous.get("/queues", headers={"Authorization": f"Basic {basic}"})
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == 'Basic realm="jobs"'
    assert from_page.headers["www-authenticate"] == 'Basic realm="jobs"'
    assert allowed.status_code == 200


async def test_a_browser_opening_the_root_is_prompted_and_an_api_client_is_not(
    keyed_app: FastAPI,
) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with _client(keyed_app) as anonymous:
        for path in ("/", "/dashboard/"):
            prompted = await anonymous.get(path, headers=browser)
            assert prompted.status_code == 401
            assert prompted.headers["www-authenticate"] == 'Basic realm="jobs"'
            assert prompted.json()["error"]["code"] == "unauthorized"
        api = await anonymous.get("/", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"


async def test_without_keys_configured_nothing_is_asked(client: httpx.AsyncClient) -> None:
    assert (await client.get("/queues")).status_code == 200


@pytest.mark.parametrize("value", [" , ", ",", " ,, , "])
def test_api_keys_that_name_no_key_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("API_KEYS", value)
    with pytest.raises(ValidationError, match="API_KEYS is set but names no key"):
        Settings()


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_api_keys_mean_no_authentication(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("API_KEYS", value)
    assert Settings().api_keys == []


def test_a_short_api_key_stops_the_start_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_KEYS", f"{KEY}, short-key")
    with pytest.raises(ValidationError, match="shorter than 16 characters") as refused:
        Settings()
    assert "short-key" not in str(refused.value)
    monkeypatch.setenv("API_KEYS", f"{KEY},{OTHER}")
    assert Settings().api_keys == [KEY, OTHER]


def test_create_app_refuses_a_short_key_that_skipped_validation(settings: Settings) -> None:
    with pytest.raises(ValueError, match="shorter than 16 characters"):
        create_app(settings.model_copy(update={"api_keys": [KEY, "tiny"]}))


def _websocket_app(api_keys: list[str]) -> ApiKeyMiddleware:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("opened")
        await websocket.close()

    return ApiKeyMiddleware(Starlette(routes=[WebSocketRoute("/ws", echo)]), api_keys)


def test_a_websocket_without_a_valid_key_is_refused() -> None:
    with TestClient(_websocket_app([KEY])) as client:
        for headers in ({}, {"Authorization": "Bearer nope"}):
            with (
                pytest.raises(WebSocketDisconnect) as closed,
                client.websocket_connect("/ws", headers=headers),
            ):
                pass
            assert closed.value.code == 1008
        with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {KEY}"}) as ws:
            assert ws.receive_text() == "opened"


def test_a_websocket_needs_no_key_when_none_is_configured() -> None:
    with TestClient(_websocket_app([])) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "opened"


READ_KEY = "look-only-key-0123456789"


async def test_a_read_only_key_reads_everything_and_changes_nothing(
    settings: Settings, redis: RedisClient
) -> None:
    app = create_app(settings.model_copy(update={"api_keys": [KEY], "api_keys_read": [READ_KEY]}))
    routes = [(m, p) for m, p in _requests(app.routes) if p not in OPEN]
    changes = [(m, p) for m, p in routes if m not in ("GET", "HEAD")]
    assert ("POST", "/jobs/ping") in changes and ("DELETE", "/failed") in changes
    basic = base64.b64encode(f"scraper:{READ_KEY}".encode()).decode()
    async with (
        app.router.lifespan_context(app),
        _client(app, {"Authorization": f"Bearer {READ_KEY}"}) as reader,
    ):
        for method, path in changes:
            refused = await reader.request(method, path, json={})
            assert refused.status_code == 403, (method, path)
            assert refused.json()["error"]["code"] == "read_only_key"
        for method, path in routes:
            if method == "GET":
                assert (await reader.get(path, params={"wait": 0})).status_code != 401, path
        listed = await reader.get("/jobs", headers={"Authorization": f"Basic {basic}"})
        assert listed.status_code == 200  # the dashboard's way (Basic) too
        assert listed.json()["jobs"] == []  # none of the refused enqueues went through
        queues = (await reader.get("/queues")).json()
        assert not any(queue["paused"] for queue in queues)


async def test_read_only_keys_alone_turn_authentication_on(
    settings: Settings, redis: RedisClient
) -> None:
    app = create_app(settings.model_copy(update={"api_keys_read": [READ_KEY]}))
    async with app.router.lifespan_context(app), _client(app) as anonymous:
        assert (await anonymous.get("/queues")).status_code == 401
        reader = {"Authorization": f"Bearer {READ_KEY}"}
        assert (await anonymous.get("/queues", headers=reader)).status_code == 200
        refused = await anonymous.post("/jobs/ping", json={}, headers=reader)
        assert refused.status_code == 403


@pytest.mark.parametrize(("value", "message"), [(" , ", "names no key"), ("short", "16 char")])
def test_read_only_keys_are_checked_like_the_others(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("API_KEYS_READ", value)
    with pytest.raises(ValidationError, match=f"API_KEYS_READ.*{message}") as refused:
        Settings()
    assert "short" not in str(refused.value).replace("shorter", "")

"""Errors map to HTTP once: "the job store cannot answer now" is 503 + Retry-After; any other
`OSError` or `RedisError` (a missing file, a failing script) is a 500 with a logged traceback."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.main import create_app
from settings import Settings

RAISED: dict[str, Exception] = {
    "redis-connection": RedisConnectionError("Error 111 connecting to 127.0.0.1:1"),
    "redis-timeout": RedisTimeoutError("Timeout reading from socket"),
    "refused": ConnectionRefusedError(111, "Connection refused"),
    "timeout": TimeoutError(),
    "read-only": ReadOnlyError("You can't write against a read only replica."),
    "oom": OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
    "oom-in-script": ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
    "busy": ResponseError("BUSY Redis is busy running a script."),
    "masterdown": ResponseError("MASTERDOWN Link with MASTER is down"),
    "clusterdown": ResponseError("CLUSTERDOWN The cluster is down"),
    "tryagain": ResponseError("TRYAGAIN Multiple keys request during rehashing of slot"),
    "loading": ResponseError("LOADING Redis is loading the dataset in memory"),
    "missing-file": FileNotFoundError(
        2, "No such file or directory", "jobs/layout/lua/enqueue.lua"
    ),
    "permission": PermissionError(13, "Permission denied"),
    "script-bug": ResponseError("user_script:27: attempt to perform arithmetic on a nil value"),
    "busygroup": ResponseError("BUSYGROUP Consumer Group name already exists"),
}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app plus one test-only route that raises `RAISED[kind]`."""
    app = create_app(settings)

    async def boom(kind: str) -> None:
        raise RAISED[kind]

    app.add_api_route("/test-only/raise/{kind}", boom)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.mark.parametrize(
    "kind",
    [
        "redis-connection",
        "redis-timeout",
        "refused",
        "timeout",
        "read-only",
        "busy",
        "masterdown",
        "clusterdown",
        "tryagain",
        "loading",
    ],
)
async def test_store_temporarily_unavailable_is_503_with_retry_after(
    client: httpx.AsyncClient, kind: str
) -> None:
    response = await client.get(f"/test-only/raise/{kind}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "redis_unavailable"


@pytest.mark.parametrize("kind", ["oom", "oom-in-script"])
async def test_store_out_of_memory_is_503_with_its_own_code(
    client: httpx.AsyncClient, kind: str
) -> None:
    response = await client.get(f"/test-only/raise/{kind}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "redis_out_of_memory"


@pytest.mark.parametrize("kind", ["missing-file", "permission", "script-bug", "busygroup"])
async def test_other_os_and_redis_errors_are_500_with_a_logged_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="service"):
        response = await client.get(f"/test-only/raise/{kind}")
    assert response.status_code == 500
    assert response.headers.get("retry-after") is None
    assert response.json() == {
        "error": {"code": "internal", "message": "internal error", "details": None}
    }
    logged = [r for r in caplog.records if r.name == "service" and r.levelno == logging.ERROR]
    assert len(logged) == 1
    assert "/test-only/raise/" in logged[0].getMessage()
    assert logged[0].exc_info is not None and logged[0].exc_info[1] is RAISED[kind]

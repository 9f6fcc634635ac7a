"""With Redis down the API answers 503 + Retry-After (never 500), and recovers by itself."""

import httpx

from scripts.embedded_redis import EmbeddedRedis
from service.main import create_app
from settings import Settings


async def test_redis_outage_is_503_and_the_service_recovers() -> None:
    server = EmbeddedRedis().start()
    app = create_app(Settings(redis_url=server.url, examples=True))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                assert (await client.post("/jobs/ping")).status_code == 202
                server.stop()
                down = await client.post("/jobs/ping")
                assert down.status_code == 503
                assert down.headers["retry-after"] == "5"
                assert down.json()["error"]["code"] == "redis_unavailable"
                # A plain JSON body takes the short path: the same answer.
                plain = await client.post("/jobs/ping", json={"message": "m"})
                assert plain.status_code == 503 and plain.headers["retry-after"] == "5"
                assert plain.json()["error"]["code"] == "redis_unavailable"
                assert (await client.get("/ready")).status_code == 503
                server = EmbeddedRedis(port=server.port).start()
                assert (await client.post("/jobs/ping")).status_code == 202
    finally:
        server.stop()

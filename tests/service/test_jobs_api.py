"""The HTTP contract of the foundation: enqueue, look up, errors, catalog, interop with ARQ."""

from datetime import UTC, datetime, timedelta

import httpx
import orjson

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from tests.support.stock_arq import stock_enqueue
from tests.support.workers import RunWorker


async def test_enqueue_answers_202_with_location_and_job_view(client: httpx.AsyncClient) -> None:
    response = await client.post("/jobs/ping", json={"message": "hi"})
    assert response.status_code == 202
    view = response.json()
    assert response.headers["location"] == f"/jobs/{view['id']}"
    assert view["status"] == "queued" and view["name"] == "ping" and view["tries"] == 0
    assert view["input"] == {"message": "hi", "sleep_s": 0.0, "fail_times": 0}


async def test_job_runs_and_wait_returns_the_result(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    job_id = (await client.post("/jobs/ping", json={"message": "hello"})).json()["id"]
    await run_worker()
    view = (await client.get(f"/jobs/{job_id}", params={"wait": 5})).json()
    assert view["status"] == "complete"
    assert view["result"]["message"] == "hello" and view["result"]["tries"] == 1
    assert view["finished_at"] is not None and view["error"] is None


async def test_long_poll_returns_when_a_worker_finishes(
    client: httpx.AsyncClient, background_worker: object
) -> None:
    job_id = (await client.post("/jobs/ping", json={"sleep_s": 0.2})).json()["id"]
    view = (await client.get(f"/jobs/{job_id}", params={"wait": 10})).json()
    assert view["status"] == "complete"


async def test_body_without_fields_uses_the_input_defaults(client: httpx.AsyncClient) -> None:
    response = await client.post("/jobs/ping")
    assert response.status_code == 202 and response.json()["input"]["message"] == "ping"


async def test_invalid_input_is_422_and_nothing_is_queued(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    response = await client.post("/jobs/ping", json={"sleep_s": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["details"][0]["loc"] == ["body", "sleep_s"]
    assert await redis.zcard("arq:queue") == 0


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/jobs/ping", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "error" in response.json()


async def test_unknown_job_type_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/jobs/nope", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_type_not_found"


async def test_unknown_job_id_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/jobs/does-not-exist")
    assert response.status_code == 404 and response.json()["error"]["code"] == "job_not_found"


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, redis: RedisClient) -> None:
    body = orjson.dumps({"message": "x" * 2_000_000})
    response = await client.post(
        "/jobs/ping", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await redis.zcard("arq:queue") == 0


async def test_defer_by_keeps_the_job_deferred_until_due(
    client: httpx.AsyncClient, run_worker: RunWorker, redis: RedisClient
) -> None:
    view = (await client.post("/jobs/ping", params={"defer_by": 3600})).json()
    assert view["status"] == "deferred"
    due = datetime.fromisoformat(view["scheduled_for"])
    assert timedelta(minutes=59) < due - datetime.now(UTC) <= timedelta(hours=1)
    await redis.zadd("arq:queue", {view["id"]: 0}, xx=True)  # bring it due instead of waiting
    await run_worker()
    assert (await client.get(f"/jobs/{view['id']}")).json()["status"] == "complete"


async def test_defer_until_accepts_rfc3339(client: httpx.AsyncClient) -> None:
    when = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    view = (await client.post("/jobs/ping", params={"defer_until": when})).json()
    assert view["status"] == "deferred"
    assert abs(
        datetime.fromisoformat(view["scheduled_for"]) - datetime.fromisoformat(when)
    ) < timedelta(seconds=1)


async def test_bad_defer_values_are_422(client: httpx.AsyncClient) -> None:
    assert (await client.post("/jobs/ping", params={"defer_by": -1})).status_code == 422
    assert (await client.post("/jobs/ping", params={"defer_until": "tomorrow"})).status_code == 422
    both = await client.post(
        "/jobs/ping", params={"defer_by": 1, "defer_until": "2030-01-01T00:00:00Z"}
    )
    assert both.status_code == 422


async def test_job_types_show_each_jobs_schemas(client: httpx.AsyncClient) -> None:
    types = {t["name"]: t for t in (await client.get("/job-types")).json()}
    assert {"ping", "send_email", "generate_report", "process_batch"} <= types.keys()
    ping = types["ping"]
    assert set(ping["input_schema"]["properties"]) == {"message", "sleep_s", "fail_times"}
    assert set(ping["output_schema"]["properties"]) == {"message", "tries", "worker"}
    assert ping["max_tries"] == 25 and ping["timeout_s"] > 0


async def test_openapi_shows_each_jobs_own_input_schema(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/jobs/send_email"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert body["$ref"].endswith("/SendEmail")
    assert "to" in spec["components"]["schemas"]["SendEmail"]["properties"]


async def test_health_is_ok_and_ready_needs_a_worker(
    client: httpx.AsyncClient, background_worker: object
) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["workers"] >= 1


async def test_ready_is_503_without_workers(client: httpx.AsyncClient) -> None:
    ready = await client.get("/ready")
    assert ready.status_code == 503 and ready.json()["status"] == "no_workers"


async def test_stock_arq_producer_job_shows_up_in_the_api(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    job = await stock_enqueue(redis, "ping", {"message": "from arq"})
    assert (await client.get(f"/jobs/{job.job_id}")).json()["status"] == "queued"
    await run_worker()
    view = (await client.get(f"/jobs/{job.job_id}")).json()
    assert view["status"] == "complete" and view["result"]["message"] == "from arq"


async def test_every_stored_value_is_json_never_pickle(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    await client.post("/jobs/ping", json={"fail_times": 1})
    await client.post("/jobs/ping", params={"defer_by": 600})
    await client.post("/jobs/always_permanent", json={})
    await run_worker()
    checked = 0
    default = keys.queue("arq:queue")
    for prefix in (default.job(""), default.result("")):
        async for key in redis.scan_iter(match=prefix + "*"):
            raw = await redis.get(key)
            assert not raw.startswith(b"\x80"), f"{key!r} holds a pickle"
            orjson.loads(raw)
            checked += 1
    assert checked == 3


async def test_root_leads_to_the_dashboard(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307 and response.headers["location"] == "dashboard/"
    assert (await client.get("/", follow_redirects=True)).url.path == "/dashboard/"


async def test_operation_ids_are_short_names_a_generated_client_can_use(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {"enqueue_ping", "enqueue_ping_bulk", "get_job", "list_jobs", "abort_job"} <= set(ids)


async def test_docs_and_redoc_load_their_assets_from_the_service(client: httpx.AsyncClient) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = (await client.get(page)).text
        assert f"docs-assets/{asset}" in html
        assert "cdn.jsdelivr" not in html and "fonts.googleapis" not in html  # works offline
        loaded = await client.get(f"/docs-assets/{asset}")
        assert loaded.status_code == 200 and len(loaded.content) > 100_000
    assert (await client.get("/docs-assets/../../etc/passwd")).status_code == 404


async def test_openapi_types_each_jobs_result(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    result = schemas["PingJobView"]["properties"]["result"]
    assert {"$ref": "#/components/schemas/Pong"} in result["anyOf"]
    assert schemas["PingJobView"]["properties"]["name"]["const"] == "ping"
    enqueued = spec["paths"]["/jobs/ping"]["post"]["responses"]["202"]["content"]
    assert enqueued["application/json"]["schema"] == {"$ref": "#/components/schemas/PingJobView"}
    any_job = spec["paths"]["/jobs/{job_id}"]["get"]["responses"]["200"]["content"]
    union = any_job["application/json"]["schema"]
    assert union["discriminator"]["propertyName"] == "name"
    assert union["discriminator"]["mapping"]["ping"] == "#/components/schemas/PingJobView"
    assert schemas["JobPage"]["properties"]["jobs"]["items"] == union


async def test_field_docstrings_are_descriptions_in_the_schema(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "retryable error" in schemas["Ping"]["properties"]["fail_times"]["description"]
    assert "due" in schemas["JobRecord"]["properties"]["scheduled_for"]["description"]

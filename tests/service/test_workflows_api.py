"""`POST /workflows`, `POST /batches` and their GETs over HTTP (the app in-process)."""

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jobs.layout.connection import RedisClient
from service.http_client import JobServiceClient, JobServiceError
from service.main import create_app
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background


def node(job: str, input: Any = None, **options: Any) -> dict[str, Any]:
    return {"job": job, "input": input if input is not None else {}, **options}


async def test_a_workflow_is_created_and_followed(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    body = {
        "nodes": {
            "a": node("numbered", {"n": 2}),
            "b": node("numbered", {"n": 3}, queue="other"),
            "sum": node("gather", {"n": 1}, after=["a", "b"]),
        }
    }
    response = await client.post("/workflows", json=body)
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["Location"] == f"/workflows/{created['id']}"
    assert created["status"] == "running"
    assert created["nodes"]["sum"]["after"] == ["a", "b"]
    assert created["nodes"]["sum"]["job"]["status"] == "waiting"
    assert created["nodes"]["a"]["job"]["status"] == "queued"
    async with worker_in_background(settings, redis, worker_queues="arq:queue,other"):

        async def done() -> bool:
            view = (await client.get(f"/workflows/{created['id']}")).json()
            return bool(view["status"] == "complete")

        await eventually(done)
    view = (await client.get(f"/workflows/{created['id']}")).json()
    assert view["nodes"]["sum"]["job"]["result"]["total"] == 6


async def test_a_cycle_is_a_422_naming_it(client: httpx.AsyncClient, redis: RedisClient) -> None:
    body = {
        "nodes": {
            "root": node("numbered"),
            "x": node("gather", after=["root", "y"]),
            "y": node("gather", after=["x"]),
        }
    }
    response = await client.post("/workflows", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "x -> y -> x" in error["message"]
    assert error["details"]["errors"] == ["x", "y", "x"]
    assert await redis.dbsize() == 0


async def test_unknown_job_bad_input_and_unknown_after_name_the_node(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    cases = [
        ({"a": node("numbered"), "b": node("no_such_job")}, "b", "job"),
        ({"a": node("numbered", {"n": "seven"})}, "a", "input"),
        ({"a": node("numbered", {"n": "7"})}, "a", "input"),  # strict, as POST /jobs/{name}
        ({"a": node("numbered"), "b": node("gather", after=["nope"])}, "b", "after"),
        ({"a": node("numbered"), "b": node("jobsvc.workflow_gate")}, "b", "job"),  # internal
        ({"a": node("three_at_a_time", {"label": "x"}, queue="elsewhere")}, "a", "queue"),
    ]
    for nodes, key, field in cases:
        response = await client.post("/workflows", json={"nodes": nodes})
        assert response.status_code == 422, response.text
        details = response.json()["error"]["details"]
        assert (details["node"], details["field"]) == (key, field), response.text
    assert await redis.dbsize() == 0


async def test_too_many_nodes_is_a_413(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    nodes = {str(i): node("numbered", {"n": i}) for i in range(settings.max_workflow_nodes + 1)}
    response = await client.post("/workflows", json={"nodes": nodes})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await redis.dbsize() == 0


async def test_unknown_workflow_and_batch_are_404(client: httpx.AsyncClient) -> None:
    for path, code in (
        ("/workflows/nope", "workflow_not_found"),
        ("/batches/nope", "batch_not_found"),
    ):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == code
    assert (await client.get("/workflows/bad%20id")).status_code == 422


async def test_a_batch_over_http(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    body = {
        "jobs": [node("numbered", {"n": i}) for i in range(5)] + [node("numbered", {"fail": True})],
        "on_success": node("batch_callback"),
        "on_complete": node("batch_callback"),
    }
    response = await client.post("/batches", json=body)
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["Location"] == f"/batches/{created['id']}"
    assert created["total"] == 6 and len(created["jobs"]) == 6
    assert created["on_complete"]["status"] == "waiting"
    async with worker_in_background(settings, redis):

        async def settled() -> bool:
            view = (await client.get(f"/batches/{created['id']}")).json()
            return bool(view["status"] == "failed")

        await eventually(settled)
    view = (await client.get(f"/batches/{created['id']}")).json()
    assert (view["total"], view["pending"], view["complete"], view["failed"]) == (6, 0, 5, 1)
    assert view["on_success"]["status"] == "failed"
    assert view["on_success"]["error"]["type"] == "ParentFailed"
    assert view["on_complete"]["status"] == "complete"
    assert view["on_complete"]["result"]["batch"]["failed"] == 1
    # A batch is a workflow too.
    assert (await client.get(f"/workflows/{created['id']}")).status_code == 200


async def test_batch_validation(client: httpx.AsyncClient, redis: RedisClient) -> None:
    response = await client.post("/batches", json={"jobs": []})
    assert response.status_code == 422
    response = await client.post(
        "/batches",
        json={"jobs": [node("numbered")], "on_success": node("numbered", {"n": "x"})},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["node"] == "on_success"
    assert await redis.dbsize() == 0


async def test_the_http_client_creates_and_reads_workflows_and_batches(
    settings: Settings, redis: RedisClient
) -> None:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        JobServiceClient("http://test", transport=httpx.ASGITransport(app=app)) as service,
    ):
        flow = await service.create_workflow(
            {"a": node("numbered", {"n": 1}), "b": node("gather", after=["a"])}
        )
        assert flow.nodes["b"].after == ["a"] and flow.status == "running"
        assert (await service.get_workflow(flow.id)).nodes["a"].job_id == flow.nodes["a"].job_id
        batch = await service.create_batch(
            [node("numbered", {"n": 1})], on_complete=node("batch_callback")
        )
        assert (await service.get_batch(batch.id)).total == 1
        with pytest.raises(JobServiceError) as refused:
            await service.create_workflow({"a": node("no_such_job")})
        assert refused.value.status == 422 and refused.value.details["node"] == "a"


async def test_callback_url_on_a_workflow_and_a_batch(
    settings: Settings, redis: RedisClient
) -> None:
    hooks = settings.model_copy(
        update={"webhook_secret": SecretStr("s3cret"), "webhook_allow_private": True}
    )
    app = create_app(hooks)
    async with (
        app.router.lifespan_context(app),
        JobServiceClient("http://test", transport=httpx.ASGITransport(app=app)) as service,
    ):
        flow = await service.create_workflow(
            {"a": node("numbered")}, callback_url="https://10.0.0.9/hook"
        )
        assert flow.webhook_job is not None
        done = await service.get(flow.webhook_job)
        assert done.name == "jobsvc.workflow_done" and done.status == "waiting"
        batch = await service.create_batch([node("numbered")], callback_url="https://10.0.0.9/hook")
        assert batch.webhook_job is not None
        before = await redis.dbsize()
        with pytest.raises(JobServiceError) as refused:
            await service.create_workflow({"a": node("numbered")}, callback_url="ftp://x/")
        assert (refused.value.status, refused.value.code) == (422, "callback_refused")
        assert await redis.dbsize() == before


async def test_a_failed_workflow_is_retried_over_http(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    body = {
        "nodes": {
            "a": node("numbered", {"n": 1}),
            "b": node("numbered", {"n": 2, "fail": True}, after=["a"]),
            "c": node("gather", {}, after=["b"]),
        }
    }
    created = (await client.post("/workflows", json=body)).json()
    url = f"/workflows/{created['id']}"
    running = await client.post(f"{url}/retry")
    assert running.status_code == 409, running.text
    assert running.json()["error"]["details"] == {"reason": "workflow_running"}
    async with worker_in_background(settings, redis):

        async def status_is(wanted: str) -> bool:
            return bool((await client.get(url)).json()["status"] == wanted)

        await eventually(lambda: status_is("failed"))
        for nodes, code in [
            ({"a": {"input": {"n": 5}}}, "invalid_request"),  # completed: it does not rerun
            ({"zz": {"input": {}}}, "invalid_request"),
            ({"b": {"input": {"n": "2"}}}, "invalid_input"),  # strict, as an enqueue
        ]:
            refused = await client.post(f"{url}/retry", json={"nodes": nodes})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == code
        retried = await client.post(f"{url}/retry", json={"nodes": {"b": {"input": {"n": 2}}}})
        assert retried.status_code == 202, retried.text
        view = retried.json()
        assert retried.headers["Location"] == url
        assert view["status"] == "running"
        assert view["nodes"]["a"]["job_id"] == created["nodes"]["a"]["job_id"]
        assert view["nodes"]["b"]["job_id"] != created["nodes"]["b"]["job_id"]
        await eventually(lambda: status_is("complete"))
    done = (await client.get(url)).json()
    assert done["nodes"]["c"]["job"]["result"]["total"] == 2
    again = await client.post(f"{url}/retry")
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"reason": "workflow_complete"}
    missing = await client.post("/workflows/nope@arq:queue/retry")
    assert missing.status_code == 404

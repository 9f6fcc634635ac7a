"""Strict by default: a field or query parameter the service does not know is a 422 naming it,
never silently dropped (a misspelt `mesage` would run the job with the default)."""

from collections.abc import AsyncIterator

import httpx

from jobs.layout.connection import RedisClient
from tests.support.stock_arq import stock_enqueue
from tests.support.workers import RunWorker


async def test_an_unknown_input_field_is_a_422_naming_it(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    # A plain small JSON body (the short path) and one with an option (FastAPI's path).
    for params in ({}, {"priority": "1"}):
        answer = await client.post("/jobs/ping", params=params, json={"mesage": "x"})
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_input"
        assert "mesage" in error["message"]
        assert [d["loc"] for d in error["details"]] == [["body", "mesage"]]
    assert await redis.zcard("arq:queue") == 0


async def test_an_unknown_field_in_a_bulk_item_refuses_the_whole_request(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    answer = await client.post("/jobs/ping/bulk", json=[{"message": "a"}, {"nope": 1}])
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["invalid"] == [
        {"index": 1, "errors": [{"loc": ["nope"], "msg": "Extra inputs are not permitted"}]}
    ]
    assert await redis.zcard("arq:queue") == 0


async def test_a_job_may_opt_out_and_ignore_unknown_fields(client: httpx.AsyncClient) -> None:
    answer = await client.post("/jobs/lenient_note", json={"text": "hi", "nope": 1})
    assert answer.status_code == 202, answer.text
    assert answer.json()["input"] == {"text": "hi"}


async def test_a_model_that_allows_extra_fields_keeps_them(client: httpx.AsyncClient) -> None:
    answer = await client.post("/jobs/keeps_extras", json={"text": "hi", "more": 1})
    assert answer.status_code == 202, answer.text
    assert answer.json()["input"] == {"text": "hi", "more": 1}


async def test_the_worker_still_runs_a_queued_job_with_a_field_no_longer_declared(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    # Queued before a deploy removed `retired` from the input: it must not fail now.
    queued = await stock_enqueue(redis, "ping", {"message": "old", "retired": True})
    await run_worker()
    view = (await client.get(f"/jobs/{queued.job_id}")).json()
    assert view["status"] == "complete", view
    assert view["result"]["message"] == "old"


async def test_job_types_show_that_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    types = {t["name"]: t for t in (await client.get("/job-types")).json()}
    assert types["ping"]["input_schema"]["additionalProperties"] is False
    assert "additionalProperties" not in types["lenient_note"]["input_schema"]


async def test_an_unknown_query_parameter_is_a_422_naming_it(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    for path, body in (("/jobs/ping", {}), ("/jobs/ping/bulk", [{}])):
        answer = await client.post(path, params={"delay": "5", "priority": "1"}, json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_request" and "delay" in error["message"]
        assert [d["loc"] for d in error["details"]] == [["query", "delay"]]
    assert await redis.zcard("arq:queue") == 0


async def test_an_oversized_chunked_body_is_a_413(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"message": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    for path in ("/jobs/ping", "/jobs/ping/bulk", "/workflows"):
        answer = await client.post(
            path, content=chunks(), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"]["code"] == "payload_too_large"
    assert await redis.dbsize() == 0

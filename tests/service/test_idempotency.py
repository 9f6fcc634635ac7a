"""`Idempotency-Key` on `POST /jobs/{name}`: one job per key and input; a different input is 409."""

import httpx

from jobs.layout.connection import RedisClient
from tests.support.workers import RunWorker


async def test_same_key_and_input_returns_the_existing_job_with_200(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    headers = {"Idempotency-Key": "order-17"}
    first = await client.post("/jobs/ping", json={"message": "once"}, headers=headers)
    second = await client.post("/jobs/ping", json={"message": "once"}, headers=headers)
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["location"] == f"/jobs/{first.json()['id']}"
    assert await redis.zcard("arq:queue") == 1


async def test_input_is_compared_after_defaults_are_filled_in(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "defaults"}
    first = await client.post("/jobs/ping", json={}, headers=headers)
    second = await client.post("/jobs/ping", json={"message": "ping"}, headers=headers)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]


async def test_same_key_with_different_input_is_409(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    headers = {"Idempotency-Key": "order-18"}
    first = await client.post("/jobs/ping", json={"message": "a"}, headers=headers)
    conflict = await client.post("/jobs/ping", json={"message": "b"}, headers=headers)
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["details"]["job_id"] == first.json()["id"]
    assert await redis.zcard("arq:queue") == 1


async def test_same_key_after_the_job_finished_returns_its_result(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    headers = {"Idempotency-Key": "order-19"}
    first = await client.post("/jobs/ping", json={"message": "done"}, headers=headers)
    await run_worker()
    again = await client.post("/jobs/ping", json={"message": "done"}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "complete" and again.json()["result"]["message"] == "done"


async def test_without_a_key_every_post_is_a_new_job(client: httpx.AsyncClient) -> None:
    first = await client.post("/jobs/ping", json={"message": "x"})
    second = await client.post("/jobs/ping", json={"message": "x"})
    assert second.status_code == 202 and second.json()["id"] != first.json()["id"]


async def test_an_integer_past_64_bits_with_a_key_is_a_422_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    """The key's input hash meets the value JSON here cannot hold before the store does."""
    for headers in ({"Idempotency-Key": "huge"}, {}):
        response = await client.post("/jobs/numbered", json={"n": 2**64}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_input"


async def test_an_integer_past_64_bits_in_a_unique_enqueue_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    """A unique lock hashes the whole input and meets the value JSON here cannot hold before
    the store does (found by the fuzz test: a 500 before)."""
    response = await client.post("/jobs/numbered?unique_for=60", json={"n": 2**64})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"

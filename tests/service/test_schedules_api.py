"""`/schedules`: schedules made over the API, checked as an enqueue is, beside those in code."""

from typing import Any

import httpx
import pytest

from jobs.client import JobClient
from jobs.cron import stored
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings

EVERY_MINUTE = {"job": "ping", "input": {"message": "tick"}, "cron": "* * * * *"}


async def _put(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> httpx.Response:
    return await client.put(f"/schedules/{name}", json=body)


async def test_a_schedule_is_created_then_replaced_keeping_its_creation_time(
    client: httpx.AsyncClient,
) -> None:
    created = await _put(client, "nightly", EVERY_MINUTE)
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["source"] == "api" and first["revision"] == 1
    assert (first["job"], first["input"], first["cron"], first["every"]) == (
        "ping",
        {"message": "tick"},
        "* * * * *",
        None,
    )
    assert first["next_run"].endswith(":00Z") and first["last_run"] is None

    replaced = await _put(client, "nightly", {"job": "ping", "every": 30, "paused": True})
    assert replaced.status_code == 200, replaced.text
    second = replaced.json()
    assert (second["revision"], second["every"], second["cron"], second["paused"]) == (
        2,
        30,
        None,
        True,
    )
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] >= first["updated_at"]

    listed = (await client.get("/schedules")).json()
    assert [s["name"] for s in listed if s["source"] == "api"] == ["nightly"]
    assert (await client.get("/schedules/nightly")).json() == second


async def test_a_deleted_schedule_is_gone_and_its_version_moves(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    assert (await _put(client, "gone", EVERY_MINUTE)).status_code == 201
    before = await stored.version(redis)
    assert (await client.delete("/schedules/gone")).status_code == 204
    assert await stored.version(redis) != before  # workers reload
    assert await redis.hget(keys.SCHEDULES, "gone") is None  # type: ignore[misc]
    again = await client.delete("/schedules/gone")
    assert again.status_code == 404 and again.json()["error"]["code"] == "schedule_not_found"
    assert (await client.get("/schedules/gone")).status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"job": "no_such_job", "cron": "* * * * *"}, "invalid_request"),
        ({"job": "jobsvc.deliver_webhook", "cron": "* * * * *"}, "invalid_request"),  # internal
        ({"job": "ping", "input": {"sleep_s": "long"}, "cron": "* * * * *"}, "invalid_input"),
        ({"job": "ping", "input": {"mesage": "typo"}, "cron": "* * * * *"}, "invalid_input"),
        ({"job": "ping", "cron": "every day"}, "invalid_request"),
        ({"job": "ping", "cron": "* * * * *", "tz": "Mars/Olympus"}, "invalid_request"),
        ({"job": "ping"}, "invalid_request"),  # neither cron nor every
        ({"job": "ping", "cron": "* * * * *", "every": 60}, "invalid_request"),  # both
        ({"job": "ping", "every": 0.5}, "invalid_request"),
        ({"job": "ping", "every": 60, "overlap": "queue"}, "invalid_request"),
        ({"job": "ping", "every": 60, "jitter": 5}, "invalid_request"),  # unknown field
    ],
)
async def test_a_schedule_no_worker_could_run_is_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient, redis: RedisClient, body: dict[str, Any], code: str
) -> None:
    response = await _put(client, "refused", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert await redis.hget(keys.SCHEDULES, "refused") is None  # type: ignore[misc]


async def test_a_bad_schedule_name_is_a_422(client: httpx.AsyncClient) -> None:
    response = await _put(client, "no spaces", EVERY_MINUTE)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_schedules_in_code_are_listed_and_read_only(client: httpx.AsyncClient) -> None:
    in_code = [s for s in (await client.get("/schedules")).json() if s["source"] == "code"]
    assert in_code, "the test catalog declares schedules"
    name = in_code[0]["name"]
    for response in (
        await _put(client, name, EVERY_MINUTE),
        await client.delete(f"/schedules/{name}"),
    ):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "schedule_in_code"


async def test_jobclient_manages_the_same_schedules(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    jobs = JobClient(redis, settings)
    made = await jobs.put_schedule("from-python", "ping", input={"message": "hi"}, every=60)
    assert (made.every, made.revision) == (60, 1)
    listed = {s["name"]: s for s in (await client.get("/schedules")).json()}
    assert listed["from-python"]["input"] == {"message": "hi"}
    assert set(await jobs.schedules()) == {"from-python"}
    with pytest.raises(stored.ScheduleRefused, match="input is not valid for ping"):
        await jobs.put_schedule("bad", "ping", input={"sleep_s": -1}, every=60)
    assert await jobs.delete_schedule("from-python") is True
    assert await jobs.delete_schedule("from-python") is False
    assert (await client.get("/schedules/from-python")).status_code == 404

"""Per-enqueue flow options over HTTP and from the Python clients: `unique_for`, `expires_in`,
`expires_at` (the multi-process proofs of the limits are in tests/e2e/test_flow_*.py)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jobs.client import JobClient
from jobs.layout.connection import RedisClient
from jobs.tasks.ping import Ping, ping
from service.http_client import JobServiceClient, JobServiceError
from service.main import create_app
from settings import Settings


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _in_a_month() -> datetime:
    """A whole-second time well inside the 365-day horizon."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


async def test_unique_for_per_enqueue_answers_the_first_job_for_an_equal_input(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    first = await client.post("/jobs/ping", params={"unique_for": 60}, json={"message": "a"})
    again = await client.post("/jobs/ping", params={"unique_for": 60}, json={"message": "a"})
    other = await client.post("/jobs/ping", params={"unique_for": 60}, json={"message": "b"})
    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == f"/jobs/{first.json()['id']}"
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    # Without the option `ping` is not unique: an equal input is a new job.
    plain = await client.post("/jobs/ping", json={"message": "a"})
    assert plain.status_code == 202 and plain.json()["id"] != first.json()["id"]


async def test_unique_for_in_bulk_resolves_equal_items_to_one_job(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    items = [{"message": "x"}, {"message": "y"}, {"message": "x"}]
    answer = await client.post("/jobs/ping/bulk", params={"unique_for": 30}, json=items)
    assert answer.status_code == 202, answer.text
    ids = [view["id"] for view in answer.json()["jobs"]]
    assert ids[0] == ids[2] and ids[0] != ids[1]


async def test_expires_in_is_in_the_created_view_as_in_a_later_get(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    answer = await client.post("/jobs/ping", params={"expires_in": 30}, json={})
    assert answer.status_code == 202, answer.text
    created = answer.json()
    assert created["expires_at"] is not None
    assert _ms(created["expires_at"]) == _ms(created["enqueued_at"]) + 30_000
    stored = (await client.get(f"/jobs/{created['id']}")).json()
    assert stored["expires_at"] == created["expires_at"]


async def test_expires_at_over_http_and_in_bulk(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    when = _in_a_month().isoformat()
    one = await client.post("/jobs/ping", params={"expires_at": when}, json={})
    many = await client.post("/jobs/ping/bulk", params={"expires_at": when}, json=[{}, {}])
    assert one.status_code == 202 and many.status_code == 202, (one.text, many.text)
    views = [one.json(), *many.json()["jobs"]]
    expected = _ms(when)
    assert [_ms(v["expires_at"]) for v in views] == [expected] * 3
    for view in views:
        assert _ms((await client.get(f"/jobs/{view['id']}")).json()["expires_at"]) == expected


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"unique_for": "0"}, "unique_for"),
        ({"unique_for": "-1"}, "unique_for"),
        ({"unique_for": "soon"}, "unique_for"),
        ({"expires_in": "0"}, "expires_in"),
        ({"expires_in": "-0.5"}, "expires_in"),
        ({"expires_in": "1e99"}, "expires_in"),
        ({"expires_at": "2030-01-31"}, "expires_at"),
        ({"expires_at": "2030-01-31T09:00:00"}, "expires_at"),
        ({"expires_at": "1700000000"}, "expires_at"),
        ({"expires_at": "9999-12-31T23:59:59Z"}, "expires_at"),
        ({"defer_until": "9999-12-31T23:59:59Z"}, "defer_until"),
        ({"expires_in": str(366 * 24 * 3600)}, "expires_in"),
    ],
)
async def test_bad_flow_options_are_422_and_enqueue_nothing(
    client: httpx.AsyncClient, redis: RedisClient, params: dict[str, str], loc: str
) -> None:
    for path, body in (("/jobs/ping", {}), ("/jobs/ping/bulk", [{}])):
        answer = await client.post(path, params=params, json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["details"][0]["loc"] == ["query", loc]
    assert await redis.dbsize() == 0


async def test_expires_in_and_expires_at_together_are_422(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    params = {"expires_in": "5", "expires_at": "2030-01-31T09:00:00Z"}
    answer = await client.post("/jobs/ping", params=params, json={})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert await redis.dbsize() == 0


async def test_openapi_documents_the_flow_options(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path in ("/jobs/ping", "/jobs/ping/bulk"):
        names = {p["name"] for p in schema["paths"][path]["post"]["parameters"]}
        assert {"unique_for", "expires_in", "expires_at"} <= names, (path, names)


async def test_job_client_takes_unique_for_and_expiry(
    redis: RedisClient, settings: Settings
) -> None:
    jobs = JobClient(redis, settings)
    first = await jobs.enqueue(ping, Ping(message="a"), unique_for=60)
    again = await jobs.enqueue(ping, {"message": "a"}, unique_for=timedelta(minutes=1))
    assert again.id == first.id
    assert (await again.status()).input == {"message": "a", "sleep_s": 0, "fail_times": 0}
    expiring = await jobs.enqueue(ping, Ping(), expires_in=30)
    record = await expiring.status()
    assert record.expires_at is not None and record.enqueued_at is not None
    assert record.expires_at - record.enqueued_at == timedelta(seconds=30)
    when = _in_a_month()
    handles = await jobs.enqueue_many(
        ping, [Ping(message="m"), Ping(message="m")], unique_for=60, expires_at=when
    )
    assert handles[0].id == handles[1].id
    assert (await handles[0].status()).expires_at == when


@pytest.fixture
async def service(settings: Settings, redis: RedisClient) -> AsyncIterator[JobServiceClient]:
    """The HTTP client against the app in-process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with JobServiceClient("http://test", transport=transport) as jobs:
            yield jobs


async def test_http_client_takes_unique_for_and_expiry(service: JobServiceClient) -> None:
    first = await service.enqueue("ping", {"message": "a"}, unique_for=60, expires_in=30)
    again = await service.enqueue("ping", {"message": "a"}, unique_for=60)
    assert again.id == first.id
    assert first.expires_at is not None and first.enqueued_at is not None
    assert first.expires_at - first.enqueued_at == timedelta(seconds=30)
    when = _in_a_month()
    at = await service.enqueue("ping", {}, expires_at=when)
    assert at.expires_at == when
    with pytest.raises(JobServiceError) as both:
        await service.enqueue("ping", {}, expires_in=1, expires_at=when)
    assert both.value.status == 422
    with pytest.raises(JobServiceError) as too_far:
        await service.enqueue("ping", {}, defer_until=datetime(9999, 12, 31, tzinfo=UTC))
    assert too_far.value.status == 422

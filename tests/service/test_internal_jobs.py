"""Internal jobs (`@job(internal=True)`, e.g. the webhook delivery): the service enqueues them,
clients cannot, and the catalog does not offer them."""

import httpx

from jobs.declare.registry import load_catalog
from settings import Settings

DELIVERY = "jobsvc.deliver_webhook"


async def test_an_internal_job_has_no_enqueue_route_and_is_not_listed(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(f"/jobs/{DELIVERY}", json={})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "job_type_not_found"
    assert DELIVERY not in answer.json()["error"]["details"]["known"]
    assert "ping" in answer.json()["error"]["details"]["known"]
    bulk = await client.post(f"/jobs/{DELIVERY}/bulk", json=[{}])
    assert bulk.status_code == 404
    names = [t["name"] for t in (await client.get("/job-types")).json()]
    assert "ping" in names and DELIVERY not in names
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/jobs/ping" in paths
    assert not [p for p in paths if DELIVERY in p]


def test_the_delivery_job_tries_as_often_as_webhook_max_attempts(settings: Settings) -> None:
    for attempts in (3, 12):
        catalog = load_catalog(settings.model_copy(update={"webhook_max_attempts": attempts}))
        assert catalog[DELIVERY].max_tries == attempts
        assert catalog[DELIVERY].internal and not catalog["ping"].internal

"""Flow control is visible over HTTP: `/job-types` and `/docs` show each job's limits."""

import httpx


async def test_job_types_show_each_jobs_limits(client: httpx.AsyncClient) -> None:
    types = {t["name"]: t for t in (await client.get("/job-types")).json()}
    assert types["one_per_customer"]["limits"] == {
        "concurrency": 1,
        "concurrency_key": "customer",
        "rate_limit": None,
        "rate_burst": None,
        "rate_key": None,
        "unique_for_s": None,
        "unique_key": None,
        "debounce_s": None,
        "expires_s": None,
    }
    assert types["twenty_a_second"]["limits"]["rate_limit"] == "20/s"
    assert types["twenty_a_second"]["limits"]["rate_burst"] == 1
    assert types["debounced"]["limits"]["debounce_s"] == 0.3
    assert types["debounced"]["limits"]["unique_key"] == "customer"
    assert types["expires_soon"]["limits"]["expires_s"] == 0.2
    assert set(types["ping"]["limits"].values()) == {None}  # no limits


async def test_docs_describe_the_limits_on_each_enqueue_route(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    one = paths["/jobs/one_per_customer"]["post"]["description"]
    assert "at most 1 at once per value of `customer`" in one
    assert "runs on queue `arq:queue` only" in one
    assert (
        "rate limit 20/s (GCRA, burst 1)" in paths["/jobs/twenty_a_second"]["post"]["description"]
    )
    bulk = paths["/jobs/unique_by_customer/bulk"]["post"]["description"]
    assert "unique for 60 s (an enqueue with the same `customer`" in bulk
    assert "Limits" not in paths["/jobs/ping"]["post"].get("description", "")

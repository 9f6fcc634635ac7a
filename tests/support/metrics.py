"""Reading `/metrics` the way Prometheus does: samples by name and labels."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def metric_samples(client: httpx.AsyncClient) -> Samples:
    """Every sample `GET /metrics` exposes (as Prometheus text), by (name, labels)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }

"""`GET /metrics`: Prometheus text, read from Redis at scrape time."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from service import metrics
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.schemas import AUTH_ERRORS, STORE_ERRORS

router = APIRouter(tags=["operations"], responses={**AUTH_ERRORS, **STORE_ERRORS})


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus_metrics(
    redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    """Queue depth by state, live workers and heartbeat ages, the oldest running try, and the
    workers' totals: outcomes, try durations and pickup latency (histograms)."""
    reading = await metrics.read(redis, catalog, settings)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.ReadingCollector(reading))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

"""A web process that starts before the cluster does (a deploy racing the cluster, or the
cluster restarting) stays up, answers 503 meanwhile, and serves once the cluster is up.
redis-py reports an unreachable cluster as `RedisClusterException`, which is no `RedisError`:
before `jobs.layout.connection.ClusterUnavailable` that was a 500."""

from pathlib import Path

import httpx
import pytest

from jobs.layout.connection import RedisClient, create_redis
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


async def test_a_web_process_started_before_the_cluster_serves_once_it_is_up(
    tmp_path: Path, redis: RedisClient
) -> None:
    late = ValkeyCluster(tmp_path / "late")
    late.reserve_ports()
    processes = ClusterProcesses(late.url, redis, tmp_path, cluster_nodes=late.nodes)
    late_redis = create_redis(Settings(redis_cluster_nodes=late.nodes.split(",")))
    try:
        url = await processes.web()
        async with httpx.AsyncClient(base_url=url, timeout=20) as api:
            refused = await api.post("/jobs/ping", json={})
            assert refused.status_code == 503, refused.text
            assert "Retry-After" in refused.headers
            assert (await api.get("/jobs/abc")).status_code == 503
            await late.start()
            accepted = await api.post("/jobs/ping", json={"message": "late"})
            assert accepted.status_code == 202, accepted.text
            processes.redis = late_redis  # where the worker's heartbeat shows
            await processes.worker()
            view = (await api.get(f"/jobs/{accepted.json()['id']}", params={"wait": 15})).json()
            assert (view["status"], view["result"]["message"]) == ("complete", "late")
        assert "Traceback" not in processes.log_text("web")
    finally:
        processes.kill_all()
        await late_redis.aclose()
        late.stop()

"""Fixtures for the cluster tests: a real 3-primary Valkey Cluster for the session, emptied
before each test, and real worker and web processes pointed at it (`REDIS_CLUSTER_NODES`)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobs.layout.connection import RedisClient, create_redis
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster
from tests.support.queues import TEST_QUEUES


@pytest.fixture(scope="session")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ValkeyCluster]:
    started = ValkeyCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield await started.start()
    finally:
        started.stop()


@pytest.fixture
def settings(cluster: ValkeyCluster) -> Settings:
    return Settings(
        redis_url=cluster.url,
        redis_cluster_nodes=cluster.nodes.split(","),
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        lease_s=5,
        heartbeat_s=1,
        poll_fallback_s=0.5,
        shutdown_grace_s=2,
        job_modules=["tests.support.jobs.sample_jobs", "tests.support.jobs.probe_jobs"],
        examples=True,
        queues=list(TEST_QUEUES),  # what tests name in `queue=` (`tests.support.queues`)
        cron_enabled=False,
        housekeeping=False,
    )


@pytest.fixture
async def redis(cluster: ValkeyCluster, settings: Settings) -> AsyncIterator[RedisClient]:
    await cluster.flush()
    client = create_redis(settings)
    yield client
    await client.aclose()


@pytest.fixture
async def processes(
    cluster: ValkeyCluster, redis: RedisClient, tmp_path: Path
) -> AsyncIterator[ClusterProcesses]:
    started = ClusterProcesses(cluster.url, redis, tmp_path, cluster_nodes=cluster.nodes)
    try:
        yield started
    finally:
        started.kill_all()

"""kill -9 of a worker mid-job: another worker runs the job after the lease; one result."""

import pytest

from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.crashes import killed_workers_job_runs_again_after_the_lease
from tests.support.processes import Processes

pytestmark = pytest.mark.e2e


async def test_job_of_a_killed_worker_is_finished_by_another_after_the_lease(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    await killed_workers_job_runs_again_after_the_lease(
        processes, redis, settings, complete_within_s=12, LEASE_S="2"
    )

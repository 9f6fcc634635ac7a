"""Acknowledged enqueues across a Redis failover: a burst of enqueues through a web process that
connects by Sentinel (`REDIS_SENTINELS`), the primary killed right after the burst while its
replica lags (the replication stream held back `LAG_S`), the replica promoted by the Sentinel,
then every acknowledged job looked up on the new primary.

Without `ENQUEUE_WAIT_REPLICAS` an acknowledgement means the primary had the job: the ones its
replica had not received are lost. With `ENQUEUE_WAIT_REPLICAS=1` an acknowledgement waits for
the replica (`WAIT`): none is lost, at the price of the replica's round trip per enqueue.

`python -m tests.chaos.failover` runs both (`FAILOVER_JOBS`, 200, per burst) and prints their
figures. Not a step of the harness's schedule: its stack is one Valkey that other steps stop
and fill; a failover needs a group of its own (`tests.support.sentinel_group`).
"""

import asyncio
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from tests.support.processes import Processes
from tests.support.sentinel_group import SentinelGroup

LAG_S = (0.15, 0.25)
WAIT_TIMEOUT_MS = 3000
CONCURRENCY = 20


@dataclass
class FailoverFigures:
    wait_replicas: int
    sent: int
    acknowledged: int
    refused: dict[str, int]
    lost: int
    """Acknowledged jobs the new primary does not have."""
    burst_s: float
    failover_s: float
    lost_ids: list[str]

    def row(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "lost_ids"}


async def burst_then_failover(
    directory: Path, wait_replicas: int, jobs: int = 200
) -> FailoverFigures:
    group = SentinelGroup(directory / "valkey")
    await group.start()
    survivor = Redis(port=group.replica_port)
    processes = Processes(f"redis://127.0.0.1:{group.replica_port}/0", survivor, directory)
    try:
        url = await processes.web(
            **group.env(),
            JOB_MODULES="tests.support.jobs.soak_jobs",
            EXAMPLES="false",
            CRON_ENABLED="false",
            HOUSEKEEPING="false",
            ENQUEUE_WAIT_REPLICAS=str(wait_replicas),
            ENQUEUE_WAIT_TIMEOUT_MS=str(WAIT_TIMEOUT_MS),
        )
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            group.lag(*LAG_S)
            acked: list[str] = []
            refused: dict[str, int] = {}
            began = time.monotonic()
            answers = await asyncio.gather(
                *(client.post("/jobs/soak_work", json={"n": n}) for n in range(1, jobs + 1))
            )
            burst_s = time.monotonic() - began
            group.kill_primary()  # right after the last acknowledgement
            for answer in answers:
                if answer.status_code == 202:
                    acked.append(answer.json()["id"])
                else:
                    code = f"{answer.status_code} {answer.json()['error']['code']}"
                    refused[code] = refused.get(code, 0) + 1
            failover_s = await group.wait_failover()
            lost = [job for job in acked if not await _found(client, job)]
        return FailoverFigures(
            wait_replicas=wait_replicas,
            sent=jobs,
            acknowledged=len(acked),
            refused=refused,
            lost=len(lost),
            burst_s=round(burst_s, 3),
            failover_s=round(failover_s, 1),
            lost_ids=lost,
        )
    finally:
        processes.kill_all()
        await survivor.aclose()
        await group.close()


async def _found(client: httpx.AsyncClient, job_id: str) -> bool:
    """Whether the job is there, asking until the web process reaches the new primary."""
    deadline = time.monotonic() + 30
    while True:
        try:
            response = await client.get(f"/jobs/{job_id}")
            if response.status_code in (200, 404):
                return response.status_code == 200
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"GET /jobs/{job_id} did not answer after the failover")
        await asyncio.sleep(0.2)


def main() -> int:
    jobs = int(os.environ.get("FAILOVER_JOBS", "200"))
    directory = Path(tempfile.mkdtemp(prefix="failover-"))
    lost = []
    for wait_replicas in (0, 1):
        figures = asyncio.run(
            burst_then_failover(directory / str(wait_replicas), wait_replicas, jobs)
        )
        print(figures.row(), flush=True)
        lost.append(figures.lost)
    return 1 if lost[1] else 0


if __name__ == "__main__":
    sys.exit(main())

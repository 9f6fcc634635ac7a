"""`WorkerSettings` for stock ARQ's CLI: `arq --check jobs.worker.WorkerSettings` only.

The health check reads the key our workers refresh with each heartbeat. Running a stock ARQ
*worker* on it is refused (no functions: ARQ exits at once): a stock worker cannot honour
leases, fencing, priorities or pauses, and it would settle our jobs as "expired" since their
definitions live under the queue's own keys (see `jobs.layout.keys`).
"""

from typing import Any, ClassVar

from jobs.layout import keys
from jobs.layout.connection import arq_redis_settings
from jobs.layout.serialization import deserialize, serialize
from jobs.settings import get_settings


def stock_worker_settings() -> type:
    settings = get_settings()

    class WorkerSettings:
        """For `arq --check jobs.worker.WorkerSettings`; our worker is `python -m jobs`."""

        functions: ClassVar[list[Any]] = []
        redis_settings = arq_redis_settings(settings)
        queue_name = settings.queue_name
        job_serializer = staticmethod(serialize)
        job_deserializer = staticmethod(deserialize)
        health_check_key = keys.queue(settings.queue_name).health_check

    return WorkerSettings

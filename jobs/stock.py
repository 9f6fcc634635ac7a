"""Settings for stock ARQ (`arq jobs.worker.WorkerSettings`): the same jobs, none of the extras."""

from typing import Any, ClassVar

from jobs import keys
from jobs.connection import arq_redis_settings
from jobs.registry import load_catalog
from jobs.serialization import deserialize, serialize
from settings import get_settings


def stock_worker_settings() -> type:
    settings = get_settings()

    class WorkerSettings:
        """For stock ARQ: `arq jobs.worker.WorkerSettings` and `arq --check ...`.

        Our own entry point (`python -m jobs`) runs `Worker` instead, with every extra.
        """

        functions: ClassVar[list[Any]] = [
            spec.arq_function() for spec in load_catalog(settings).values()
        ]
        redis_settings = arq_redis_settings(settings)
        queue_name = settings.queue_name
        job_serializer = staticmethod(serialize)
        job_deserializer = staticmethod(deserialize)
        keep_result = settings.result_ttl_s
        max_tries = settings.default_max_tries
        health_check_key = keys.health_check(settings.queue_name)

    return WorkerSettings

"""Redis connections built from settings; nothing connects until first used."""

import ssl
from typing import Any
from urllib.parse import urlparse

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool
from redis.asyncio.sentinel import Sentinel

from jobs.serialization import deserialize, serialize
from settings import Settings


def _tls_options(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url.startswith("rediss://"):
        return {}
    if settings.redis_tls_ca_file:
        return {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": settings.redis_tls_ca_file}
    # Heroku Redis presents self-signed certificates; Heroku documents cert_reqs=none.
    return {"ssl_cert_reqs": ssl.CERT_NONE, "ssl_check_hostname": False}


def create_redis(settings: Settings, **options: Any) -> ArqRedis:
    """An ARQ client (JSON serializer) for `settings.redis_url` or its Sentinel master."""
    common: dict[str, Any] = {
        "socket_connect_timeout": 2.0,
        "health_check_interval": 15,
        **_tls_options(settings),
        **options,
    }
    arq_options: dict[str, Any] = {
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "default_queue_name": settings.queue_name,
    }
    if settings.redis_sentinels:
        url = urlparse(settings.redis_url)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in settings.redis_sentinels],
            password=url.password,
            **common,
        )
        client: ArqRedis = sentinel.master_for(
            settings.redis_sentinel_master,
            redis_class=ArqRedis,
            password=url.password,
            db=int(url.path.lstrip("/") or 0),
        )
        for name, value in arq_options.items():
            setattr(client, name, value)
        return client
    pool = ConnectionPool.from_url(settings.redis_url, **common)
    return ArqRedis(pool, **arq_options)


def arq_redis_settings(settings: Settings) -> RedisSettings:
    """The same server as ARQ `RedisSettings`, for stock `arq` CLI runs of WorkerSettings."""
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    if settings.redis_url.startswith("rediss://") and not settings.redis_tls_ca_file:
        redis_settings.ssl_cert_reqs = "none"
    elif settings.redis_tls_ca_file:
        redis_settings.ssl_ca_certs = settings.redis_tls_ca_file
    return redis_settings

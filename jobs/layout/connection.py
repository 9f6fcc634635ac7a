"""Redis connections built from settings; nothing connects until first used.

One Redis (`REDIS_URL`), a Sentinel-managed primary (`REDIS_SENTINELS`), or a Redis/Valkey
Cluster (`REDIS_CLUSTER_NODES`, seed nodes; credentials and TLS still from `REDIS_URL`). The
cluster client shares the single client's command API (not its class), so the code is typed
against `redis.asyncio.Redis` throughout (`RedisClient`).
"""

from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import urlparse

import hiredis
from arq.connections import ArqRedis, RedisSettings
from redis._parsers.hiredis import _AsyncHiredisParser
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import ClusterError, RedisClusterException, ResponseError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.layout.serialization import arq_deserialize, serialize
from jobs.settings import Settings

RedisClient = Redis
"""What every function takes: a single client or a cluster client (see the module doc)."""


def _tls_options(settings: Settings) -> dict[str, Any]:
    """A `rediss://` server's certificate checked, chain and name, against the system's CAs or
    `REDIS_TLS_CA_FILE`; not at all only when `REDIS_TLS_VERIFY=false` says so (Heroku Redis
    presents self-signed certificates; Heroku documents cert_reqs=none for them)."""
    if not settings.redis_url.startswith("rediss://"):
        return {}
    # Strings: redis-py's asyncio TLS context takes "none"/"required", not `ssl.CERT_*`
    # (given one, it never sets its requirement and every connection fails).
    if not settings.redis_tls_verify:
        return {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
    options: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if settings.redis_tls_ca_file:
        options["ssl_ca_certs"] = settings.redis_tls_ca_file
    return options


class ClusterUnavailable(RedisConnectionError):
    """The cluster's layout cannot be read now: no seed node answers, the nodes disagree, or a
    slot has no primary (mid-failover). redis-py raises these as `RedisClusterException`,
    which is not a `RedisError`; as a connection error, every retry loop of the worker and the
    web's 503 mapping treat them as the outage they are."""


NON_LOCAL_KEY = "Script attempted to access a non local key"
"""Valkey/Redis refusing a script's undeclared key whose slot is migrating (or elsewhere)."""


class _ClusterPipeline(ClusterPipeline):
    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except SlotNotCoveredError as exc:
            raise ClusterUnavailable(str(exc)) from exc
        except AttributeError as exc:
            # Mid-failover redis-py may have no default node left (`get_default_node()` is
            # None inside its pipeline code): an outage to retry, not a crash of the worker.
            raise ClusterUnavailable(f"cluster layout being rebuilt: {exc}") from exc


class _PackedInC(AbstractConnection):
    """Commands packed by hiredis (C), as redis-py's sync client does when hiredis is there;
    its asyncio client packs them in Python, about 3 µs per row of a settle call (6
    arguments), the largest part of a worker's CPU for storing an outcome. The same bytes;
    an argument hiredis does not take (None, a bool, a memoryview) goes to redis-py's own
    packer, which packs it or raises its usual `DataError`."""

    def pack_command(self, *args: Any) -> list[bytes]:
        name = args[0]
        if not isinstance(name, str) or " " in name:  # e.g. "CONFIG GET": redis-py splits it
            return super().pack_command(*args)
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return super().pack_command(*args)


class _CheckedWithoutRead(AbstractConnection):
    """The pool lends a connection only if nothing is left to read on it (a reply nobody
    read, or the server's EOF). redis-py 5 finds out with a zero-timeout read before every
    command: a timer, a read that is cancelled and a TimeoutError caught, 11 µs of CPU per
    command on the bench machine. Here the same question is answered from what the event
    loop has already received (0.4 µs), as redis-py 7 does (redis/redis-py#4063)."""

    async def can_read_destructive(self) -> bool:
        parser = self._parser
        if not (isinstance(parser, _AsyncHiredisParser) and parser._connected):
            checked: bool = await super().can_read_destructive()  # type: ignore[no-untyped-call]
            return checked  # (raises for a closed connection)
        reader: Any = parser._reader  # both set when it connected
        stream: Any = parser._stream
        return bool(reader.has_data() or stream.at_eof() or stream._buffer)


_TUNED: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _tuned(cls: type[AbstractConnection]) -> type[AbstractConnection]:
    """`cls` (plain, TLS, Unix socket, Sentinel-managed) with `_PackedInC`'s packing and
    `_CheckedWithoutRead`'s check."""
    if issubclass(cls, _PackedInC):
        return cls
    if cls not in _TUNED:
        _TUNED[cls] = type(cls.__name__, (_PackedInC, _CheckedWithoutRead, cls), {})
    return _TUNED[cls]


class _WriteErrorsAreConnectionErrors(Connection):
    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except (RuntimeError, AttributeError, TypeError) as exc:
            # The transport was closed under this write: redis-py's cluster client closes
            # every connection of every node when one command meets a connection error,
            # including those other tasks are about to write on. uvloop then raises
            # RuntimeError, CPython TypeError or AttributeError (redis-py #4287): none is a
            # RedisError, so no retry loop would catch it. Nothing was sent.
            raise RedisConnectionError(f"connection closed while writing: {exc!r}") from exc


class _ClusterConnection(_PackedInC, _WriteErrorsAreConnectionErrors):
    pass


class _ClusterSSLConnection(_PackedInC, _WriteErrorsAreConnectionErrors, SSLConnection):
    pass


class _RedisCluster(RedisCluster):
    """redis-py's cluster client, with layout failures raised as `ClusterUnavailable` and
    writes on connections closed under them as connection errors."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # redis-py fixes the connection class itself: swap ours in before anything connects.
        ssl_on = self.connection_kwargs["connection_class"] is SSLConnection
        safe = _ClusterSSLConnection if ssl_on else _ClusterConnection
        self.connection_kwargs["connection_class"] = safe
        for node in self.nodes_manager.startup_nodes.values():
            node.connection_class = safe

    async def initialize(self) -> "_RedisCluster":
        try:
            await super().initialize()
        except RedisClusterException as exc:
            raise ClusterUnavailable(str(exc)) from exc
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except SlotNotCoveredError as exc:
            raise ClusterUnavailable(str(exc)) from exc
        except ClusterError as exc:
            if type(exc) is not ClusterError:  # CLUSTERDOWN: already an outage to callers
                raise
            # "TTL exhausted": still redirected (TRYAGAIN, ASK) after 16 tries, e.g. a script
            # whose keys are half moved while a slot migrates: try again later, like an outage.
            raise ClusterUnavailable(f"slot busy (migrating?): {exc}") from exc
        except AttributeError as exc:
            # As in the pipeline: no default node mid-failover (keyless commands use it).
            raise ClusterUnavailable(f"cluster layout being rebuilt: {exc}") from exc
        except ResponseError as exc:
            if not str(exc).startswith(NON_LOCAL_KEY):
                raise
            # A script met a key of its slot that has already moved (a migration is under
            # way): the same call succeeds once the slot has moved.
            raise ClusterUnavailable(f"slot migrating: {exc}") from exc

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        super().pipeline(transaction, shard_hint)  # refuses a transaction, as redis-py does
        return _ClusterPipeline(self)  # type: ignore[abstract]


def _host_port(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    return host, int(port)


def is_cluster(settings: Settings) -> bool:
    return bool(settings.redis_cluster_nodes)


def create_redis(settings: Settings, **options: Any) -> RedisClient:
    """A client for `settings`: a cluster, a Sentinel master, or `redis_url`'s server."""
    common: dict[str, Any] = {"socket_connect_timeout": 2.0, **_tls_options(settings), **options}
    if settings.redis_max_connections is not None:
        common["max_connections"] = settings.redis_max_connections  # per node on a cluster
    url = urlparse(settings.redis_url)
    if settings.redis_cluster_nodes:
        tls = common.pop("ssl_cert_reqs", None)
        cluster = _RedisCluster(  # type: ignore[abstract]
            startup_nodes=[ClusterNode(*_host_port(n)) for n in settings.redis_cluster_nodes],
            username=url.username,
            password=url.password,
            ssl=tls is not None,
            ssl_cert_reqs=tls or "required",
            # A MOVED reply patches the slot map from the reply itself. The default (every
            # fifth MOVED) re-reads the layout after closing every connection, in use or not:
            # a failover or a slot migration would cut other tasks' commands short.
            reinitialize_steps=0,
            **common,
        )
        return cast(Redis, cluster)
    arq_options: dict[str, Any] = {
        "job_serializer": serialize,
        # Job definitions come back as they are; outcomes the way a stock ARQ client needs.
        "job_deserializer": arq_deserialize,
        "default_queue_name": settings.queue_name,
    }
    common["health_check_interval"] = 15
    if settings.redis_sentinels:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            [_host_port(h) for h in settings.redis_sentinels], password=url.password, **common
        )
        client: ArqRedis = sentinel.master_for(
            settings.redis_sentinel_master,
            redis_class=ArqRedis,
            password=url.password,
            db=int(url.path.lstrip("/") or 0),
        )
        for name, value in arq_options.items():
            setattr(client, name, value)
        pool = client.connection_pool
        pool.connection_class = _tuned(pool.connection_class)
        return client
    if settings.redis_max_connections is None:
        pool = ConnectionPool.from_url(settings.redis_url, **common)
    else:
        # Capped: a command past the cap waits for a connection rather than failing at once
        # (the plain pool raises "Too many connections"): a worker's jobs outnumber its cap.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url, timeout=settings.redis_pool_timeout_s, **common
        )
    pool.connection_class = _tuned(pool.connection_class)
    return ArqRedis(pool, **arq_options)


def pubsub_client(settings: Settings, attempt: int = 0) -> Redis:
    """A plain client for pub/sub. On a cluster, classic PUBLISH reaches every node, so any
    one node will do: successive attempts rotate through the seed nodes."""
    if not settings.redis_cluster_nodes:
        return create_redis(settings)
    nodes = settings.redis_cluster_nodes
    host, port = _host_port(nodes[attempt % len(nodes)])
    url = urlparse(settings.redis_url)
    return Redis(
        host=host,
        port=port,
        username=url.username,
        password=url.password,
        socket_connect_timeout=2.0,
        # The options alone do not turn TLS on for a plain client: `ssl` does.
        ssl=settings.redis_url.startswith("rediss://"),
        **_tls_options(settings),
    )


async def server_ms(redis: RedisClient) -> int:
    """The server's clock in ms (`TIME`): every stored time and due score is the server's,
    whatever the caller's clock says."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def arq_redis_settings(settings: Settings) -> RedisSettings:
    """The same server as ARQ `RedisSettings`, for stock `arq --check` runs of WorkerSettings."""
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    tls = _tls_options(settings)
    if tls:
        redis_settings.ssl_cert_reqs = tls["ssl_cert_reqs"]
        redis_settings.ssl_check_hostname = tls["ssl_check_hostname"]
        redis_settings.ssl_ca_certs = tls.get("ssl_ca_certs")
    return redis_settings

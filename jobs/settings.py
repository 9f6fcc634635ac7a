"""All configuration, from the environment, Heroku-style (`REDIS_URL`, `PORT`, ...).

Nothing else in the code base reads `os.environ`. It lives inside `jobs` so that an installed
copy adds no top-level `settings` module to its host (the checkout's `settings.py` re-exports
it). Read settings through `get_settings()`, so
that importing a module never freezes configuration and tests can build their own `Settings`.
"""

import os
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from jobs.layout import encryption
from jobs.layout.encryption import Keyring

MIN_API_KEY_LENGTH = 16


def check_api_keys(keys: list[str], name: str = "API_KEYS") -> list[str]:
    """Every API key long enough to resist guessing; the message never shows a key."""
    short = sum(1 for key in keys if len(key) < MIN_API_KEY_LENGTH)
    if short:
        raise ValueError(
            f"{name}: {short} of the {len(keys)} keys are shorter than {MIN_API_KEY_LENGTH} "
            "characters (e.g. `openssl rand -hex 24` makes one)"
        )
    return keys


class Settings(BaseSettings):
    # A refused value is not echoed: API_KEYS and the secrets would reach the start-up log.
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    # --- Redis -----------------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    """`redis://` or `rediss://`. `make run` points it at an embedded server when unset."""
    redis_tls_ca_file: str | None = None
    """Verify a `rediss://` server against this CA (a private CA's, or the server's own
    self-signed certificate). Unset: against the system's CAs."""
    redis_tls_verify: bool = True
    """`rediss://` checks the server's certificate and name, as any TLS client should. `false`
    accepts any certificate (Heroku Redis presents self-signed ones and documents
    `ssl_cert_reqs=none`; app.json sets it): the connection is encrypted but an attacker on the
    path can pose as the server. Prefer `REDIS_TLS_CA_FILE` where the CA is known."""
    redis_sentinels: Annotated[list[str], NoDecode] = []
    """`host:port,host:port`: connect through Redis Sentinel instead of `redis_url`'s host."""
    redis_sentinel_master: str = "mymaster"
    embedded_redis_port: int = 6390
    """`make run` without `REDIS_URL`: the embedded server's port (not 6379: a system Redis
    may listen there)."""
    embedded_redis_dir: str = ".data"
    """...and where it keeps its data (append-only file), relative to the project."""
    redis_cluster_nodes: Annotated[list[str], NoDecode] = []
    """`host:port,...`: seed nodes of a Redis/Valkey Cluster (credentials and TLS from
    `redis_url`). Unset: a single server (or Sentinel)."""
    redis_max_connections: int | None = Field(default=None, ge=2)
    """Most connections one pool opens (a process has one pool, plus one connection for
    pub/sub; see the README's Deploy section). Past it a command waits for a free connection
    (up to `redis_pool_timeout_s`) on a single server; Sentinel and Cluster pools raise a
    connection error instead. Unset: no cap (a pool grows with the commands in flight). Set it
    on plans that cap connections (Heroku Redis mini: 20 for every process together)."""
    redis_pool_timeout_s: float = Field(default=20.0, gt=0)
    """With `redis_max_connections`: how long a command waits for a free connection before it
    fails as a connection error (an outage to every retry loop; 503 on the web)."""

    enqueue_wait_replicas: int = Field(default=0, ge=0)
    """An enqueue is acknowledged only once this many replicas have its write (Redis `WAIT`
    after the enqueue script, on the same connection): a failover to a replica then loses no
    acknowledged job. Fewer within `enqueue_wait_timeout_ms`: 503 `enqueue_not_replicated`
    (the job is on the primary, not known durable; send it again with its `Idempotency-Key`).
    0: acknowledged once the primary has it (asynchronous replication; `WAIT` costs a
    replica's round trip per call). Not on a Redis Cluster."""
    enqueue_wait_timeout_ms: int = Field(default=1000, ge=1)
    """How long an enqueue waits for `enqueue_wait_replicas` replicas."""

    # --- web -------------------------------------------------------------------------------
    port: int = 8000
    web_concurrency: int = 1
    max_request_bytes: int = 1_048_576
    api_keys: Annotated[list[str], NoDecode] = []
    """Comma-separated bearer tokens, each of at least 16 characters. Unset or empty: no
    authentication (local runs); a value naming no key (`' , '`) stops the start."""
    api_keys_read: Annotated[list[str], NoDecode] = []
    """Keys that may only look (`GET`, `HEAD`): for scrapers and dashboards that only watch.
    Same rules as `api_keys`; any other method with one is a 403 `read_only_key`. Set alone
    (no `api_keys`), nobody can change anything over HTTP."""
    max_wait_s: float = 60.0
    max_streams_per_process: int = Field(default=200, ge=1)
    """Event streams and `?wait=` long-polls open at once in one web process; past it a 503
    `too_many_streams` with `Retry-After`. Each holds a socket and some memory as long as it
    lasts; the rest of the API stays answerable."""
    stream_max_s: float = Field(default=3600.0, gt=0)
    """An event stream ends after this long (cleanly: `EventSource` reconnects on its own and
    gets the job's current view first), so that no connection is held forever."""

    trace_url_template: str | None = None
    """`http://jaeger:16686/trace/{trace_id}`: the dashboard links a job's trace id there (a
    Jaeger or Tempo UI). Unset: the id is shown without a link."""

    # --- jobs ------------------------------------------------------------------------------
    queue_name: str = "arq:queue"
    """The queue of jobs that declare none (ARQ's default name: stock ARQ producers feed it)."""
    queues: Annotated[list[str], NoDecode] = []
    """`critical,reports`: queues an enqueue may name (`?queue=`, `queue=`) besides those a
    job declares (`@job(queue=...)`), `WORKER_QUEUES` and `queue_name`; any other name is
    refused (`jobs.declare.queues`)."""
    worker_queues: str = ""
    """Queues a worker serves: `critical,default,low` (strict order) or `critical:6,default:3`
    (weighted, no starvation), or `*`: every queue enqueues name, new ones too. Empty:
    `queue_name` alone."""
    result_grace_s: int = 60
    """How long the final status of a job that keeps no result (`keep_result=0`) stays readable."""
    listing_max_jobs: int = Field(default=100_000, ge=1)
    """Per queue, the listing (`GET /jobs`) keeps at most this many of the newest jobs."""
    max_bulk: int = Field(default=1000, ge=1)
    """Most items in one `POST /jobs/{name}/bulk`."""
    dependency_wait_s: int = Field(default=7 * 24 * 3600, ge=1)
    """How long a job waiting for parents (`after`) is kept waiting at most; every dependency
    key (`deps`, `children`, `parents`, `waiting`, a waiting job's state) expires with it."""
    max_edges_per_request: int = Field(default=10_000, ge=1)
    """Most dependency edges (a job waiting for a parent) one request creates: `after` of one
    enqueue, bulk items x `after`, a workflow's `after` lists (413 `too_many_edges` past it,
    nothing written). A batch's edges are bounded by `max_batch_jobs` (two callbacks each)."""
    dependency_sweep_s: float = Field(default=10.0, gt=0)
    """A job waiting for parents is looked at again this long after its enqueue, then this
    often (`jobs.graph.dependencies.sweep`): the most a release lost to a crash is late by (the
    worker sweeps every half of it)."""
    max_workflow_nodes: int = Field(default=1000, ge=1)
    """Most nodes in one workflow (`POST /workflows`; 413 above it)."""
    max_batch_jobs: int = Field(default=10_000, ge=1)
    """Most jobs in one batch (`POST /batches`; 413 above it)."""
    job_timeout_s: float = 300.0
    result_ttl_s: int = 24 * 3600
    """How long results of successful jobs are kept."""
    failed_ttl_s: int = 7 * 24 * 3600
    """Failed and aborted jobs are kept longer: someone has to look at them."""
    default_max_tries: int = 5
    unknown_job_grace_s: float = Field(default=600.0, ge=0)
    """How long after its enqueue a job whose name a worker does not know is put back for a
    worker that knows it (the try not counted), before that worker fails it `UnknownJob`.
    During a rolling deploy a worker of the previous release claims jobs only the new release
    declares; 10 minutes covers a slow rollout (dynos or pods restarted one at a time, each
    waiting out its shutdown grace) with room to spare, while a name no release declares (a
    typo from a stock ARQ producer, a job type removed) still fails the same day, not never.
    0: fail at once, as before."""
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0

    # --- worker ----------------------------------------------------------------------------
    worker_concurrency: int = Field(default=100, ge=1)
    """Tries run at once per worker process, wherever they run (loop, threads, processes)."""
    worker_threads: int = Field(default=40, ge=1)
    """Threads for plain `def` jobs (as many as Starlette gives `def` endpoints): one each while
    it runs. A thread cannot be killed: one past its job's timeout keeps its place until its
    function returns."""
    worker_processes: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    """Child processes for `run_in="process"` jobs (CPU-bound work), started on first use."""
    claim_batch: int = Field(default=50, ge=1)
    """Ready jobs claimed per Redis round trip."""
    poll_fallback_s: float = 1.0
    """Longest idle wait; wake-ups on enqueue normally come much sooner."""
    lease_s: float = Field(default=30.0, gt=0)
    """A running job's lease; renewed every third of it; a dead worker's job reruns after it."""
    shutdown_grace_s: float = 25.0
    """On SIGTERM, running jobs get this long to finish (Heroku kills at 30 s)."""
    heartbeat_s: float = 5.0
    cron_enabled: bool = True
    """Run the application's cron schedules in this worker (each tick still runs once across
    all workers). The service's own housekeeping is `housekeeping`'s."""
    housekeeping: bool = True
    """Run the service's own schedules (`jobs.cron.housekeeping`: trimming job listings and the
    failed registry past their retention). Off only where jobs are counted (tests)."""
    job_modules: Annotated[list[str], NoDecode] = []
    """Your modules whose `@job`s (and `schedule`s) join the catalog: `myapp.jobs,myapp.cron`."""
    examples: bool = False
    """Load the example jobs of `jobs.tasks` (ping, send_email, reports, batch...) and their
    cron schedule (`heartbeat_report`, every minute). `make run` turns them on for the README's
    tour; a deployment declares its own jobs in `JOB_MODULES`."""

    # --- SMTP (send_email) -----------------------------------------------------------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_sender: str = "jobs@localhost"

    # --- completion webhooks (jobs/webhooks/signing.py)
    # --------------------------------------------
    webhook_secret: SecretStr | None = None
    """The HMAC-SHA256 key that signs every webhook (`X-Signature`). One secret; see
    `webhook_secrets` for rotation."""
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = []
    """`new,old,...`: signs with the first; the others still verify (`verify_signature`), for
    rotation. Takes precedence over `webhook_secret`."""
    webhook_allow_http: bool = False
    """Also deliver to `http://` URLs (default: `https://` only)."""
    webhook_allow_private: bool = False
    """Also deliver to private, loopback, link-local and other non-global addresses (default:
    refused: a webhook must not reach the service's own network, e.g. 169.254.169.254)."""
    webhook_allowed_ports: Annotated[list[Annotated[int, Field(ge=1, le=65535)]], NoDecode] = [
        443,
        80,
    ]
    """`443,80`: the only ports a callback URL may name (explicitly or by its scheme); any
    other is refused at enqueue and at delivery (no probing of other services' ports)."""
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=30)
    """One delivery attempt, name resolution to response headers."""
    webhook_max_attempts: int = Field(default=8, ge=1, le=20)
    """Attempts per delivery before it fails for good."""
    webhook_backoff_base_s: float = Field(default=10.0, ge=0)
    webhook_backoff_max_s: float = Field(default=3600.0, ge=0)
    """Between attempts: full jitter over `base * 2**(attempt-1)`, capped (8 attempts span ~21 min
    at most with the defaults)."""

    # --- encryption at rest (jobs/layout/encryption.py) ------------------------------------
    encryption_keys: SecretStr | None = None
    """`new,old,...`: urlsafe base64 32-byte keys (`Fernet.generate_key()`). Set, inputs,
    results, errors, step results and signal bodies are stored sealed with the first (AES-GCM);
    every key opens what it sealed (rotation). Unset or empty: stored in clear. A malformed
    value stops the start with a message naming the setting."""

    # --- logs ------------------------------------------------------------------------------
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("api_keys", "api_keys_read", mode="before")
    @classmethod
    def _split_api_keys(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            keys = [part.strip() for part in value.split(",") if part.strip()]
            if value.strip() and not keys:
                raise ValueError(
                    f"{str(info.field_name).upper()} is set but names no key: unset it (or "
                    "leave it empty) for no authentication, or give comma-separated keys"
                )
            return keys
        return value

    @field_validator("api_keys", "api_keys_read")
    @classmethod
    def _long_api_keys(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return check_api_keys(value, str(info.field_name).upper())

    @field_validator("trace_url_template")
    @classmethod
    def _trace_url_template(cls, value: str | None) -> str | None:
        # A link operators click: a web page, with somewhere to put the id. Empty: unset.
        if value and not (value.startswith(("http://", "https://")) and "{trace_id}" in value):
            raise ValueError(
                "TRACE_URL_TEMPLATE: an http(s) URL with {trace_id} in it, e.g. "
                "http://jaeger:16686/trace/{trace_id}"
            )
        return value or None

    @field_validator("encryption_keys")
    @classmethod
    def _parse_encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        Keyring.parse(value.get_secret_value())  # raises, naming the setting, never a key
        return value

    def keyring(self) -> Keyring | None:
        """The keys of `encryption_keys`, or None: encryption off."""
        keys = self.encryption_keys
        return None if keys is None else Keyring.parse(keys.get_secret_value())

    @model_validator(mode="after")
    def _one_way_to_check_redis_tls(self) -> "Settings":
        if self.redis_tls_ca_file and not self.redis_tls_verify:
            raise ValueError(
                "REDIS_TLS_CA_FILE names a CA to verify against, REDIS_TLS_VERIFY=false turns "
                "verification off: set one of them"
            )
        return self

    @field_validator(
        "redis_sentinels",
        "redis_cluster_nodes",
        "job_modules",
        "queues",
        "webhook_secrets",
        "webhook_allowed_ports",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    # The process seals with the settings it runs with (`create_app` and `Worker` install
    # the keyring of settings they are given).
    encryption.install(settings.keyring())
    return settings

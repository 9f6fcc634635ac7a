"""Every Redis key the service uses, in one place (what is stored under them: `records`).

Keys are grouped by queue. Every key of a queue carries the queue's hash tag (`{name}`), and so
does every key of a job on it, so each Lua script touches one Redis Cluster slot and queues
spread over the shards. A job id names its queue (`jobs.layout.ids`), so any key of a job is found
from its id alone, on a cluster too.

The default queue keeps ARQ's name and sorted set, `arq:queue` (which hashes to the same slot
as `{arq:queue}`), so stock ARQ producers (`enqueue_job`) still feed it on a single Redis:
their definitions sit at ARQ's `arq:job:{id}` (`LEGACY_JOB`), which the worker reads too.

The few global keys (workers, stats, the queue registry, the event channel) are never touched
by a script, so no command ever spans two slots.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from arq import constants as arq

from jobs.layout import encryption
from jobs.layout.ids import (
    DEFAULT_QUEUE,
    JOB_ID,
    QUEUE_NAME,
    InvalidJobId,
    InvalidQueueName,
    check_queue_name,
    job_id_for,
    queue_of,
)

__all__ = [
    "DEFAULT_QUEUE",
    "JOB_ID",
    "QUEUE_NAME",
    "InvalidJobId",
    "InvalidQueueName",
    "QueueKeys",
    "check_queue_name",
    "job_id_for",
    "of_job",
    "queue",
    "queue_of",
]

LEGACY_JOB = arq.job_key_prefix  # `arq:job:`: a stock ARQ producer's job definition
LEGACY_RESULT = arq.result_key_prefix
"""`arq:result:`: where a stock ARQ client (`Job.result()`, `Job.status()`) reads an outcome; on a
single Redis the worker writes a copy there of the final record of a stock ARQ producer's job."""
LEGACY_IN_PROGRESS = arq.in_progress_key_prefix
"""`arq:in-progress:`: a try ARQ's worker runs, or ours of a stock ARQ producer's job (for a stock
ARQ client's `Job.status()`)."""
WORKERS = "jobsvc:workers"  # zset worker id -> last heartbeat ms
WORKER = "jobsvc:worker:"  # {id} -> JSON heartbeat details
QUEUES = "jobsvc:queues"  # set of queue names ever enqueued to (for /queues)
WAITING_QUEUES = "jobsvc:waiting_queues"
"""zset queue name -> ms until which it may hold jobs waiting for parents (the dependency
sweep's index: `jobs.graph.waiting_queues`)."""
STATS = "jobsvc:stats"  # hash of the workers' counters (jobs/reading/stats.py)
MINUTE = "jobsvc:minute:"  # {minute ms} -> hash outcome -> tries that ended then (2 h)
EVENTS = "jobsvc:events"  # pub/sub channel: records.Event on every change
CRON_PAUSED = "jobsvc:cron:paused"  # set of paused schedule names
CRON_LAST = "jobsvc:cron:last"  # hash schedule name -> ms of the last tick (or run-now) enqueued
CRON_LAST_JOB = "jobsvc:cron:last_job"  # hash schedule name -> id of the last tick's job
SCHEDULES = "jobsvc:schedules"  # hash name -> JSON schedule made over the API; `#version` field
WEBHOOK_STATS = "jobsvc:webhooks"  # hash of the webhook delivery counters (jobs/webhooks)

PREFIX_OPEN, PREFIX_CLOSE = "jobsvc:{", "}:"  # around a queue's name: its keys' prefix

SUFFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # A queue's own keys: its prefix + the suffix.
        "due": "due",
        "levels": "levels",
        "priorities": "prio",
        "sequence": "seq",
        "wake": "wake",
        "paused": "paused",
        "index": "index",
        "failed": "failed",
        "abort": "abort",
        "flow": "flow",
        "timers": "timers",
        "gates": "gates",
        "parents": "parents",
        "waiting": "waiting",
        "sweep_fence": "sweeping",
        "unknown": "unknown",
        "fair": "fair",
        "fair_weights": "fairw",
        # One of many (a job's, a gate's, a lock's, ...): its prefix + the suffix + the name.
        "ready": "ready:",
        "fair_keys": "fairkeys:",
        "lane": "lane:",
        "running": "running:",
        "held": "held:",
        "rate_tat": "tat:",
        "unique": "unique:",
        "deps": "deps:",
        "children": "children:",
        "workflow": "workflow:",
        "job": "job:",
        "result": "result:",
        "lease": "lease:",
        "state": "state:",
        "claim": "claim:",
        "idempotency": "idem:",
        "deliveries": "deliveries:",
        "cron_tick": "cron:",
    }
)
"""What follows a queue's prefix in each of its keys, by the name of the `QueueKeys` member that
builds the key. The Lua scripts spell them by the same names (see `SCRIPT_NAMES`)."""

SCRIPT_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **SUFFIXES,
        "PREFIX_OPEN": PREFIX_OPEN,
        "PREFIX_CLOSE": PREFIX_CLOSE,
        "DEFAULT_QUEUE": DEFAULT_QUEUE,
        "LEGACY_JOB": LEGACY_JOB,
        "LEGACY_RESULT": LEGACY_RESULT,
        "LEGACY_IN_PROGRESS": LEGACY_IN_PROGRESS,
        "EVENTS": EVENTS,
    }
)
"""The names a Lua script may use: `KEY.job` in its text stands for `'job:'`, `KEY.EVENTS` for
`'jobsvc:events'` (`jobs.layout.scripts` spells them in when it loads a script, so a call
costs the server nothing more than the literal would; a name not here fails the load)."""


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue and of the jobs on it, all in the queue's cluster slot."""

    name: str

    @property
    def prefix(self) -> str:
        """`jobsvc:{name}:`; the Lua scripts build per-job keys from it."""
        return PREFIX_OPEN + self.name + PREFIX_CLOSE

    @property
    def due(self) -> str:
        """zset id -> due ms (+ a sub-ms fraction: FIFO within a millisecond): priority-0 jobs
        (ready or not), deferred jobs of any priority, and running jobs (scored by their
        lease's end: a dead worker's job comes due again). The default queue's is ARQ's own
        `arq:queue`."""
        return DEFAULT_QUEUE if self.name == DEFAULT_QUEUE else self.prefix + SUFFIXES["due"]

    @property
    def levels(self) -> str:
        """zset priority -> priority: the priorities above 0 that have ready jobs (and 0 when
        it has fair ones: `fair_keys`)."""
        return self.prefix + SUFFIXES["levels"]

    def ready(self, priority: int) -> str:
        """zset id -> due ms: the ready jobs of one priority above 0, oldest due first."""
        return f"{self.prefix}{SUFFIXES['ready']}{priority}"

    @property
    def priorities(self) -> str:
        """hash id -> priority, for the live jobs whose priority is not 0."""
        return self.prefix + SUFFIXES["priorities"]

    # --- fair shares (lua/includes/fair.lua): within a level, ready jobs of different fair
    # keys are served in turn (stride scheduling); plain ready jobs of the level are key ''.

    @property
    def fair(self) -> str:
        """hash id -> fair key value, for the live jobs that have one (goes when final)."""
        return self.prefix + SUFFIXES["fair"]

    def fair_keys(self, priority: int) -> str:
        """zset fair key -> pass: the keys of one level with ready jobs, next served lowest."""
        return f"{self.prefix}{SUFFIXES['fair_keys']}{priority}"

    def lane(self, priority: int, fair_key: str) -> str:
        """zset id -> `lane_rank` of its due score: one fair key's ready jobs of one level,
        oldest due first (key '' is the level's `ready` set, scored by due score)."""
        if fair_key == "":
            return self.ready(priority)
        return f"{self.prefix}{SUFFIXES['lane']}{priority}:{fair_key}"

    @property
    def fair_weights(self) -> str:
        """hash fair key -> weight (absent: 1): a key of weight w is served w times per round."""
        return self.prefix + SUFFIXES["fair_weights"]

    @property
    def sequence(self) -> str:
        """hash {ms, n, t}: jobs enqueued so far in the current millisecond (the sub-millisecond
        fraction of due scores: FIFO within a millisecond), and enqueue calls since the listing
        was last trimmed; {tm, tn}: turns given to fair jobs at gates in the current
        millisecond (their rank there, claim.lua)."""
        return self.prefix + SUFFIXES["sequence"]

    @property
    def wake(self) -> str:
        """list a producer pushes to and an idle worker blocks on: pickup without polling."""
        return self.prefix + SUFFIXES["wake"]

    @property
    def paused(self) -> str:
        """exists while the queue is paused: jobs are accepted, none starts."""
        return self.prefix + SUFFIXES["paused"]

    @property
    def index(self) -> str:
        """zset id -> enqueued ms: the queue's jobs for listing (trimmed by age and count)."""
        return self.prefix + SUFFIXES["index"]

    @property
    def failed(self) -> str:
        """zset id -> finished ms: failed and aborted jobs."""
        return self.prefix + SUFFIXES["failed"]

    @property
    def unknown(self) -> str:
        """hash id -> job name: jobs a worker put back because it does not know them (a rolling
        deploy: only the new release declares them), until a worker claims one again
        (finish.lua's `defer`, claim.lua)."""
        return self.prefix + SUFFIXES["unknown"]

    @property
    def abort(self) -> str:
        """zset id -> requested ms: abort requests for running jobs."""
        return self.prefix + SUFFIXES["abort"]

    # --- flow control (jobs/flow/limits.py, lua/includes/flow.lua; shown by gate_state.py)
    # A gate is named `c:{job}[:{key value}]` (concurrency) or `r:{job}[:{key value}]` (rate).

    @property
    def flow(self) -> str:
        """hash id -> the job's gates (`records.encode_gates` JSON: `c`/`n` concurrency gate
        and limit, `r`/`t`/`b` rate gate, interval µs and burst, `u` unique lock), for the
        live jobs that have any; the entry goes when the job is final."""
        return self.prefix + SUFFIXES["flow"]

    def running(self, gate: str) -> str:
        """zset id -> lease end ms: a concurrency gate's slots in use (a dead worker's entry
        ages out with its lease; a released job's reservation after one lease)."""
        return f"{self.prefix}{SUFFIXES['running']}{gate}"

    def held(self, gate: str) -> str:
        """zset score = priority, member = "{due score, 26 chars}|{id}": the jobs a gate holds
        back, best priority first, then in due order."""
        return f"{self.prefix}{SUFFIXES['held']}{gate}"

    def rate_tat(self, gate: str) -> str:
        """a rate gate's GCRA theoretical arrival time (server µs); it expires once past."""
        return f"{self.prefix}{SUFFIXES['rate_tat']}{gate}"

    @property
    def timers(self) -> str:
        """zset gate -> ms when a gate must be looked at again: a rate gate's next admission,
        or the earliest lease end of a full concurrency gate (fired by claim.lua)."""
        return self.prefix + SUFFIXES["timers"]

    @property
    def gates(self) -> str:
        """set of the gates that have running or held jobs (a rate gate: held ones)."""
        return self.prefix + SUFFIXES["gates"]

    def unique(self, lock: str) -> str:
        """the id of the live job holding a unique/debounce lock (`FlowControl.unique_lock`);
        it goes when that job is final, or with its `unique_for` TTL."""
        return f"{self.prefix}{SUFFIXES['unique']}{lock}"

    # --- dependencies (lua/includes/deps.lua) ---------------------------------------------

    def deps(self, job_id: str) -> str:
        """set: the parents a waiting job still waits for."""
        return f"{self.prefix}{SUFFIXES['deps']}{job_id}"

    def children(self, job_id: str) -> str:
        """set: the jobs (of any queue) waiting for this one to be final."""
        return f"{self.prefix}{SUFFIXES['children']}{job_id}"

    @property
    def parents(self) -> str:
        """set: this queue's jobs that have `children` (a settle looks further only then)."""
        return self.prefix + SUFFIXES["parents"]

    @property
    def waiting(self) -> str:
        """zset id -> ms of its next sweep: the queue's jobs waiting for parents."""
        return self.prefix + SUFFIXES["waiting"]

    @property
    def sweep_fence(self) -> str:
        """the id of the worker sweeping this queue's waiting jobs this interval (expires)."""
        return self.prefix + SUFFIXES["sweep_fence"]

    def workflow(self, workflow_id: str) -> str:
        """a workflow or batch (records.WorkflowRecord): its nodes' job ids and edges; kept as
        long as its jobs may wait and their results are kept (`jobs.graph.workflows`)."""
        return f"{self.prefix}{SUFFIXES['workflow']}{workflow_id}"

    @property
    def health_check(self) -> str:
        """ARQ's health-check key, read by `arq --check`."""
        return self.name + arq.health_check_key_suffix

    def job(self, job_id: str) -> str:
        """the job's definition (records.JobDefinition)."""
        return f"{self.prefix}{SUFFIXES['job']}{job_id}"

    def result(self, job_id: str) -> str:
        """the final record (records.result_data)."""
        return f"{self.prefix}{SUFFIXES['result']}{job_id}"

    def lease(self, job_id: str) -> str:
        """the running try's lease (records.LeaseToken)."""
        return f"{self.prefix}{SUFFIXES['lease']}{job_id}"

    def state(self, job_id: str) -> str:
        """hash of a live job: tries, progress, last error, next try."""
        return f"{self.prefix}{SUFFIXES['state']}{job_id}"

    def claim(self, claim_id: str) -> str:
        """what one claim call took: "{lease token} {id} ..." (see claim.lua)."""
        return f"{self.prefix}{SUFFIXES['claim']}{claim_id}"

    def idempotency(self, job: str, key: str) -> str:
        """ "{id} {input hash}" of the job an `Idempotency-Key` created (the key hashed with
        encryption on: a client's key may be made of its own data)."""
        return f"{self.prefix}{SUFFIXES['idempotency']}{job}:{encryption.hashed(key)}"

    def deliveries(self, job_id: str) -> str:
        """list of the job's webhook delivery attempts (`jobs.webhooks.attempts.DeliveryAttempt`
        JSON), oldest first, capped; it expires with the job's result."""
        return f"{self.prefix}{SUFFIXES['deliveries']}{job_id}"

    def cron_tick(self, schedule: str, tick_ms: int) -> str:
        """the id enqueued for one tick of a cron schedule."""
        return f"{self.prefix}{SUFFIXES['cron_tick']}{schedule}:{tick_ms}"


LANE_EPOCH_MS = 1_700_000_000_000
"""A lane's score is `lane_rank(due score)`: (due ms - this) * 4096 + the sub-ms place, an
integer (exact below 2**53: until about 2093). Redis keeps a small sorted set as a listpack,
where an integer score compares without parsing a decimal string at every entry."""


def lane_rank(due_score: float) -> int:
    return round((due_score - LANE_EPOCH_MS) * 4096)


def lane_due(rank: float) -> float:
    """The due score (ms) a lane's score stands for."""
    return rank / 4096 + LANE_EPOCH_MS


QUEUE_CACHE_SIZE = 1024
"""Queues whose keys a process keeps built: as many as it serves or shows, and never grown by
names a request makes up (an LRU, so a flood of them evicts, not accumulates)."""


@lru_cache(maxsize=QUEUE_CACHE_SIZE)
def queue(name: str) -> QueueKeys:
    return QueueKeys(check_queue_name(name))


def of_job(job_id: str) -> QueueKeys:
    """The keys of the queue `job_id` is on."""
    return queue(queue_of(job_id))

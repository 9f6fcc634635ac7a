"""Jobs that wait for other jobs: `enqueue(..., after=[ids])`.

A job enqueued `after` its parents waits (status `waiting`: in no due or ready set, so no
worker polls for it and no try is spent) until every parent is final; then it is queued in one
atomic step (`jobs/layout/lua/includes/deps.lua`). What a parent that did not complete (failed,
aborted, or gone) means is the child's `on_parent_failure`: "fail" (the default: the child ends
`failed` with `ParentFailed` naming that parent, without starting) or "ignore" (it runs, and
`ctx.parent_failures` says which parents did not complete). A running child reads its parents'
results in `ctx.parent_results`.

How a release reaches the child, which may be on another queue (another Redis Cluster slot):
1. the child is created waiting (`enqueue.lua`), then linked to its parents, one call per
   parent queue (`link.lua`: adds it to each live parent's `children`; a parent already final
   is released at once from here);
2. a parent's settle (`finish.lua`, `abort.lua`) releases its children of the same queue in
   the same script, and hands back the others, which the caller releases on their own slots
   right away (`release.lua`);
3. a sweep (every worker, every half of `DEPENDENCY_SWEEP_S`, over every queue that has
   waiting jobs, served or not: `jobs.graph.waiting_queues`) looks again at the parents
   of jobs that have waited a while, and links and releases what is missing: a crash between
   a settle and the release it owed, or between creating a child and linking it, costs one
   sweep interval, never a lost or doubled release. Releases are idempotent (a parent counts
   once per child), so a child never runs twice because two releases raced.

Bounded by construction: every dependency key (`deps`, `children`, `parents`, `waiting`, a
waiting job's state) expires with the longest wait (`DEPENDENCY_WAIT_S`), and one request
creates at most `MAX_EDGES_PER_REQUEST` edges (`jobs.graph.edge_limit`).
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient, server_ms
from jobs.layout.records import JobState, open_result
from jobs.layout.serialization import deserialize

logger = logging.getLogger("jobs.worker")

OnParentFailure = Literal["fail", "ignore"]
# How long a job waits for its parents before a sweep first looks at them, and between two
# looks, is the setting `dependency_sweep_s` (DEPENDENCY_SWEEP_S, default 10 s): enqueue.lua
# schedules the first look, each look the next.
SWEEP_BATCH = 100
MAX_PARENTS = 10_000


class UnknownParent(LookupError):
    """`after` names a job that does not exist (never did, or expired)."""

    def __init__(self, job_ids: list[str]) -> None:
        super().__init__(f"unknown or expired parent jobs: {', '.join(job_ids)}")
        self.job_ids = job_ids


Release = tuple[str, str, str]
"""(waiting job, parent, the parent's final status)."""


def by_queue(job_ids: Iterable[str]) -> dict[keys.QueueKeys, list[str]]:
    grouped: dict[keys.QueueKeys, list[str]] = defaultdict(list)
    for job_id in job_ids:
        grouped[keys.of_job(job_id)].append(job_id)
    return grouped


async def missing_parents(redis: RedisClient, parents: Sequence[str]) -> list[str]:
    """The parents that are neither live nor final (one pipeline)."""
    async with redis.pipeline(transaction=False) as pipe:
        for parent in parents:
            q = keys.of_job(parent)
            pipe.exists(q.job(parent), q.result(parent))
        found = await pipe.execute()
    return [parent for parent, n in zip(parents, found, strict=True) if not n]


async def link(
    redis: RedisClient, children: Sequence[str], parents: Sequence[str], *, wait_s: int
) -> None:
    """Make `children` (waiting) known to their `parents`; release them at once from the
    parents that are final already (or gone: those count as not completed). `wait_s`
    (DEPENDENCY_WAIT_S): the most a child waits, the TTL of the parents' `children` sets."""
    if not children:
        return
    releases: list[Release] = []
    script = scripts.script("link")
    wait_ms = wait_s * 1000
    for q, group in by_queue(parents).items():
        args = [q.prefix, wait_ms, " ".join(children), *group]
        statuses = await script(redis, [q.parents], args)
        for parent, raw in zip(group, statuses, strict=True):
            status = raw.decode()
            if status != "live":
                releases += [(child, parent, status) for child in children]
    await send_releases(redis, releases)


async def send_releases(redis: RedisClient, releases: Sequence[Release]) -> list[str]:
    """Release waiting jobs on their own slots; the ids queued now."""
    grouped: dict[keys.QueueKeys, list[str]] = defaultdict(list)
    for child, parent, status in releases:
        grouped[keys.of_job(child)] += (child, parent, status)
    queued: list[str] = []
    script = scripts.script("release")
    for q, args in grouped.items():
        queued += [raw.decode() for raw in await script(redis, [q.due], [q.prefix, *args])]
    return queued


def releases_from(flat: Sequence[bytes]) -> list[Release]:
    """The `{child, parent, status, ...}` part of a settle's reply."""
    values = [v.decode() for v in flat]
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values) - 2, 3)]


async def sweep(
    redis: RedisClient, queues: Iterable[str], interval_s: float, *, wait_s: int
) -> int:
    """Look again at the parents of jobs whose look is due (a batch per queue; the next look
    `interval_s` later): link what is unlinked, release what a lost call owed. Returns how many
    jobs were looked at. Any worker may sweep any queue at any time: every step is idempotent.
    Times are the server's (enqueue.lua scheduled the first look by its clock). `wait_s`:
    DEPENDENCY_WAIT_S (see `link`)."""
    looked = 0
    now_ms = await server_ms(redis)
    for name in queues:
        q = keys.queue(name)
        due = await redis.zrangebyscore(q.waiting, "-inf", now_ms, start=0, num=SWEEP_BATCH)
        for raw in due:
            child = raw.decode()
            if not await redis.exists(q.job(child)):
                # Its definition expired while it waited (DEPENDENCY_WAIT_S) or it was lost:
                # nothing can run it any more; its waiting keys go with it.
                await _forget(redis, q, child)
                continue
            # Next look later, first: a crash mid-sweep must not make it look every time.
            await redis.zadd(q.waiting, {child: now_ms + int(interval_s * 1000)}, xx=True)
            pending = [p.decode() for p in await redis.smembers(q.deps(child))]  # type: ignore[misc]
            if pending:
                await link(redis, [child], pending, wait_s=wait_s)
            looked += 1
    return looked


async def _forget(redis: RedisClient, q: keys.QueueKeys, child: str) -> None:
    """A waiting job that expired: its keys (which expire on their own too) and its entries in
    the queue's shared hashes (its priority, its gates), which do not."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(q.waiting, child)
        pipe.delete(q.deps(child), q.state(child))
        pipe.hdel(q.priorities, child)
        pipe.hdel(q.fair, child)
        pipe.hdel(q.flow, child)
        await pipe.execute()


@dataclass(frozen=True, slots=True)
class ParentOutcomes:
    """What a job that waited for parents learns when it is about to run."""

    on_failure: OnParentFailure
    statuses: dict[str, str]
    """Parent id -> its final status, as recorded when it released this job."""
    results: dict[str, Any] = field(default_factory=dict)
    """Completed parents' results (those still kept)."""
    failures: dict[str, Any] = field(default_factory=dict)
    """Parents that did not complete: id -> {"status": ..., "error": ... or None}."""
    batch: str | None = None
    """The batch this job is a callback of (`jobs.graph.batches`; state field `batch`)."""
    gone: bool = False
    """The job's state is gone: it is final already (another try settled it while this one's
    worker was stalled past its lease) or expired. Such a try holds nothing and must not run:
    it would run without its parents' outcomes."""

    @property
    def first_failed(self) -> str | None:
        return next((p for p, s in self.statuses.items() if s != "complete"), None)

    def batch_summary(self) -> dict[str, Any] | None:
        """A batch callback's view of its batch: it waited for every member, so its parents'
        statuses are the members' outcomes (a member gone counts as failed)."""
        if self.batch is None:
            return None
        counts = {"complete": 0, "failed": 0, "aborted": 0}
        for status in self.statuses.values():
            counts[status if status in counts else "failed"] += 1
        return {"id": self.batch, "total": len(self.statuses), **counts}


COMMIT_GATE = "wfgate."
"""How the id of a workflow's commit gate starts (`jobs.graph.workflows`, Redis Cluster path): a
gate that did not complete (the workflow was never committed) fails its children whatever
their `on_parent_failure`, and a gate is no parent the job sees otherwise."""


def is_commit_gate(job_id: str) -> bool:
    return job_id.startswith(COMMIT_GATE)


async def parent_outcomes(redis: RedisClient, job_id: str, *, results: bool) -> ParentOutcomes:
    """The recorded parent statuses of `job_id` (and, with `results`, their stored results)."""
    raw = await redis.hgetall(keys.of_job(job_id).state(job_id))  # type: ignore[misc]
    if not raw:
        return ParentOutcomes("fail", {}, gone=True)
    state = JobState.parse(raw)
    on_failure, statuses, batch = state.on_parent_failure, state.parent_statuses, state.batch
    # A workflow's commit gate (jobs/graph/workflows.py) is not a parent the job knows of; if it
    # did not complete, the workflow was never committed: nothing of it may run.
    gates = {p: s for p, s in statuses.items() if is_commit_gate(p)}
    uncommitted = {p: s for p, s in gates.items() if s != "complete"}
    if uncommitted:
        return ParentOutcomes("fail", uncommitted, batch=batch)
    statuses = {p: s for p, s in statuses.items() if p not in gates}
    if not results:
        return ParentOutcomes(on_failure, statuses, batch=batch)
    stored: dict[str, Any] = {}
    for q, group in by_queue(statuses).items():
        async with redis.pipeline(transaction=False) as pipe:
            for parent in group:
                pipe.get(q.result(parent))
            for parent, raw in zip(group, await pipe.execute(), strict=True):
                stored[parent] = _record(raw)
    done = {p: stored[p].get("r") for p, s in statuses.items() if s == "complete" and p in stored}
    failed = {
        p: {"status": s, "error": stored.get(p, {}).get("r")}
        for p, s in statuses.items()
        if s != "complete"
    }
    return ParentOutcomes(on_failure, statuses, done, failed, batch)


def _record(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        d = deserialize(raw)
    except ValueError:
        return {}
    # A parent sealed with a key not held here: the child's try fails naming the key.
    return open_result(d) if isinstance(d, dict) else {}

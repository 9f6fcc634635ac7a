"""Write a validated workflow all or nothing (which path when: see `jobs.graph.workflows`).

Both paths write the same things: each node's job (`enqueue.lua` rows, many job types per call,
one call per queue and chunk), its links to its parents (`link.lua`, per parent queue), a batch
callback's batch id (its state field `batch`, read by the worker with its parents' statuses)
and the workflow's record. They differ in what makes them atomic:
- `write_transaction` (one Redis): all of it in ONE MULTI/EXEC. Scripts go as EVAL (their
  source) inside it: an EVALSHA the server has not cached would fail alone inside EXEC while
  the rest applied (EXEC does not roll back). A refused command (OOM, a wrong argument count)
  aborts the whole EXEC.
- `write_gated` (Redis Cluster, or anywhere): every node also waits for a commit gate, a job
  (`jobsvc.workflow_gate`) in the workflow's slot that waits for a sentinel id that is never
  a job. Once everything is written, `release.lua` releases the gate from the sentinel as
  "complete": one atomic step, the commit. Uncommitted, the sweep finds the sentinel missing,
  the gate fails `ParentFailed`, and every node fails after it without starting (a failed
  gate fails its children whatever their `on_parent_failure`: `jobs.graph.dependencies`).

With a `callback_url`, two more jobs are written in the same step, on the workflow's queue:
`jobsvc.workflow_done`, after every node (`ignore`), which reports the outcome, and its
webhook delivery (`jobs.webhooks.callback.delivery_for`), after it; on the gated path both also wait
for the gate, so an uncommitted workflow sends nothing.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from jobs.declare.registry import JobSpec
from jobs.enqueue.options import EnqueueOptions
from jobs.enqueue.plan import Plan, plan, script_header
from jobs.enqueue.submit import BULK_CHUNK
from jobs.graph import dependencies
from jobs.graph.dependencies import COMMIT_GATE, MAX_PARENTS
from jobs.graph.waiting_queues import note_waiting, waiting_entries
from jobs.graph.workflow_validation import Planned, validate
from jobs.graph.workflows import (
    Created,
    Workflow,
    WorkflowNotCommitted,
    WorkflowTooLarge,
    record_key,
)
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient, is_cluster, server_ms
from jobs.layout.records import JobState, WorkflowRecord
from jobs.settings import Settings, get_settings
from jobs.webhooks.callback import DELIVERY_JOB, check_callback, delivery_for

GATE_JOB = "jobsvc.workflow_gate"
DONE_JOB = "jobsvc.workflow_done"


@dataclass(frozen=True, slots=True)
class RetryOf:
    """A retry's nodes go into an existing workflow (`jobs.graph.workflow_retry`): its id and
    record stay, the rerun nodes' keys get new job ids, and each rerun node also waits for its
    completed parents (`kept`: node key -> their job ids), so it reads their results."""

    workflow_id: str
    record: WorkflowRecord
    kept: Mapping[str, list[str]]


async def enqueue_workflow(
    redis: RedisClient,
    flow: Workflow,
    settings: Settings | None = None,
    *,
    kind: str = "workflow",
    callbacks: Mapping[str, str] | None = None,
    catalog: Mapping[str, JobSpec] | None = None,
    limit: int | None = None,
    max_edges: int | None = None,
    callback_url: str | None = None,
    retry_of: RetryOf | None = None,
) -> Created:
    """Validate `flow`, then write it by the path the connection allows. `callbacks` (a
    batch's): callback name -> node key; those nodes learn the batch id. `callback_url`: once
    every node is final, `jobsvc.workflow_done` reports the workflow, and its completion
    webhook posts that report there (checked first: `jobs.webhooks.callback.InvalidCallback`).
    `retry_of`: the flow reruns nodes of that workflow (see `RetryOf`)."""
    settings = settings or get_settings()
    planned = validate(flow, settings, catalog=catalog, limit=limit, max_edges=max_edges)
    if callback_url is not None:
        check_callback(callback_url, settings)
        if len(planned) > MAX_PARENTS:
            raise WorkflowTooLarge(
                f"{len(planned)} jobs; at most {MAX_PARENTS} with a callback_url"
            )
    write = write_gated if is_cluster(settings) else write_transaction
    return await write(
        redis,
        settings,
        planned,
        kind=kind,
        callbacks=callbacks,
        callback_url=callback_url,
        retry_of=retry_of,
    )


class _Writes:
    """Ids, script calls and the record of one workflow, built before anything is sent."""

    def __init__(
        self,
        settings: Settings,
        planned: Sequence[Planned],
        kind: str,
        callbacks: Mapping[str, str] | None,
        gated: bool,
        callback_url: str | None = None,
        retry_of: RetryOf | None = None,
    ) -> None:
        self.settings = settings
        self.retry_of = retry_of
        self.kept: Mapping[str, list[str]] = retry_of.kept if retry_of else {}
        if retry_of is None:
            first_root = next(p for p in planned if not p.after)
            self.id = keys.job_id_for(first_root.queue)
            unique = self.id.partition("@")[0]
        else:  # the gate of each retry is a new job
            self.id = retry_of.workflow_id
            unique = f"{self.id.partition('@')[0]}.r{retry_of.record.retries + 1}"
        self.home = keys.of_job(self.id)
        self.callback_url = callback_url
        self.gate = keys.job_id_for(self.home.name, COMMIT_GATE + unique) if gated else None
        self.sentinel = keys.job_id_for(self.home.name, "commit." + unique)
        self.ids = {p.key: keys.job_id_for(p.queue) for p in planned}
        self.planned = planned
        self.kind = kind
        self.callbacks = dict(callbacks or {})
        self.call_of: dict[str, int] = {}
        """Job id -> the index of the `enqueue_calls` call that creates it."""
        self.done = keys.job_id_for(self.home.name) if callback_url else None
        self.delivery = (
            delivery_for(self.done, callback_url) if self.done and callback_url else None
        )

    def every_node(self) -> list[str]:
        """Every node's job id (a retry's: the kept ones too, which its report reads)."""
        kept = self.retry_of.record.nodes if self.retry_of else {}
        return list({**kept, **self.ids}.values())

    def parents(self, p: Planned) -> list[str]:
        return self._node_parents(p) + ([self.gate] if self.gate else [])

    def _node_parents(self, p: Planned) -> list[str]:
        return [self.ids[a] for a in p.after] + list(self.kept.get(p.key, ()))

    def extras(self) -> list[tuple[Plan, str, Any]]:
        """With a callback URL: the done job (after every node) and its webhook delivery."""
        if self.done is None or self.delivery is None:
            return []
        gate = [self.gate] if self.gate else []
        after_all = EnqueueOptions(
            queue=self.home.name, after=[*self.every_node(), *gate], on_parent_failure="ignore"
        )
        done = plan(DONE_JOB, after_all, self.settings)
        after_done = EnqueueOptions(
            queue=self.home.name, after=[self.done, *gate], on_parent_failure="ignore"
        )
        deliver = plan(DELIVERY_JOB, after_done, self.settings)
        return [
            (done, self.done, {"workflow_id": self.id}),
            (deliver, self.delivery.job_id, self.delivery.payload),
        ]

    def enqueue_calls(self) -> list[tuple[list[str], list[Any]]]:
        """(KEYS, ARGV) of `enqueue.lua`, per queue and chunk (parents before children)."""
        rows: dict[keys.QueueKeys, list[Any]] = defaultdict(list)
        pending: dict[keys.QueueKeys, list[str]] = defaultdict(list)
        calls: list[tuple[list[str], list[Any]]] = []

        def flush(q: keys.QueueKeys) -> None:
            for job_id in pending.pop(q):
                self.call_of[job_id] = len(calls)
            calls.append(self._call(q, rows.pop(q)))

        entries = [
            (
                plan(
                    p.name,
                    EnqueueOptions(
                        queue=p.queue,
                        priority=p.priority,
                        after=self.parents(p),
                        on_parent_failure=p.on_parent_failure,
                    ),
                    self.settings,
                ),
                self.ids[p.key],
                p.data,
            )
            for p in self.planned
        ]
        for o, job_id, data in entries + self.extras():
            rows[o.queue] += o.row(job_id, data)
            pending[o.queue].append(job_id)
            if len(pending[o.queue]) == BULK_CHUNK:
                flush(o.queue)
        for q in list(rows):
            flush(q)
        return calls

    def _call(self, q: keys.QueueKeys, rows: list[Any]) -> tuple[list[str], list[Any]]:
        header = script_header(q, self.settings, fresh=True)
        return [q.due, q.levels, q.wake, q.index, q.index], header + rows

    def links(self) -> list[tuple[list[str], list[str]]]:
        """(children, parents) still to link once `enqueue_calls` is made: nodes that wait
        for the same parents, together. A child whose parents are all rows of its own
        `enqueue.lua` call needs none: the script links a parent of the same call itself."""
        groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for p in self.planned:
            if parents := self._node_parents(p):
                groups[tuple(parents)].append(self.ids[p.key])
        out = [(children, list(parents)) for parents, children in groups.items()]
        extra: list[str] = []
        if self.done and self.delivery:
            out += [([self.done], self.every_node()), ([self.delivery.job_id], [self.done])]
            extra = [self.done, self.delivery.job_id]
        if self.gate:
            out.append(([*self.ids.values(), *extra], [self.gate]))
        needed = []
        for children, parents in out:
            outside = [c for c in children if any(self._apart(c, p) for p in parents)]
            if outside:
                needed.append((outside, parents))
        return needed

    def _apart(self, child: str, parent: str) -> bool:
        call = self.call_of.get(child)
        return call is None or call != self.call_of.get(parent)

    def batch_members(self) -> dict[str, str]:
        """Callback job id -> the batch id (its state field `batch`): the callbacks written
        now (a retry writes only those that did not complete)."""
        return {self.ids[key]: self.id for key in self.callbacks.values() if key in self.ids}

    def record(self, now_ms: int) -> tuple[str, bytes, int]:
        s = self.settings
        ttl_ms = (s.dependency_wait_s + max(s.result_ttl_s, s.failed_ttl_s)) * 1000
        if self.retry_of is not None:  # the same workflow, its rerun nodes' ids replaced
            old = self.retry_of.record
            rec = replace(
                old,
                nodes={**old.nodes, **self.ids},
                gate=self.gate,
                done=self.done,
                retries=old.retries + 1,
            )
            return record_key(self.id), rec.dump(), ttl_ms
        rec = WorkflowRecord(
            kind=self.kind,
            nodes=dict(self.ids),
            after={p.key: list(p.after) for p in self.planned},
            created_ms=now_ms,
            gate=self.gate,
            callbacks=self.callbacks,
            done=self.done,
            callback_url=self.callback_url,
            ignore=frozenset(p.key for p in self.planned if p.on_parent_failure == "ignore"),
        )
        return record_key(self.id), rec.dump(), ttl_ms

    def created(self) -> Created:
        return Created(self.id, dict(self.ids), self.gate, self.done)

    def queues(self) -> set[str]:
        return {p.queue for p in self.planned} | {self.home.name}

    def waiting_queues(self) -> set[str]:
        """The queues this workflow puts waiting jobs on (the sweep's index)."""
        home = {self.home.name} if self.gate or self.done else set()
        return {p.queue for p in self.planned if self._node_parents(p) or self.gate} | home


async def write_transaction(
    redis: RedisClient,
    settings: Settings,
    planned: Sequence[Planned],
    *,
    kind: str = "workflow",
    callbacks: Mapping[str, str] | None = None,
    callback_url: str | None = None,
    retry_of: RetryOf | None = None,
) -> Created:
    """One Redis: everything in one MULTI/EXEC (see the module doc)."""
    w = _Writes(settings, planned, kind, callbacks, False, callback_url, retry_of)
    key, value, ttl_ms = w.record(await server_ms(redis))
    enqueue_source, link_source = scripts.script("enqueue").source, scripts.script("link").source
    calls = w.enqueue_calls()
    links = w.links()
    waiting = waiting_entries(w.waiting_queues(), settings)  # the sweep's index, same step
    async with redis.pipeline(transaction=True) as pipe:
        if waiting:
            pipe.zadd(keys.WAITING_QUEUES, waiting)
        for script_keys, args in calls:
            pipe.eval(enqueue_source, len(script_keys), *script_keys, *args)
        link_calls: list[tuple[list[str], list[str]]] = []
        for children, parents in links:
            for q, group in dependencies.by_queue(parents).items():
                wait_ms = str(settings.dependency_wait_s * 1000)
                pipe.eval(link_source, 0, q.prefix, wait_ms, " ".join(children), *group)
                link_calls.append((children, group))
        for job_id, batch_id in w.batch_members().items():
            pipe.hset(keys.of_job(job_id).state(job_id), JobState.BATCH, batch_id)
        pipe.set(key, value, px=ttl_ms)
        pipe.sadd(keys.QUEUES, *w.queues())
        replies = await pipe.execute()
    # Every parent was created in the same transaction, so each link says 'live'; should one
    # not, its release is owed now (what `dependencies.link` does).
    owed: list[dependencies.Release] = []
    link_replies = replies[bool(waiting) + len(calls) :]
    for (children, group), statuses in zip(link_calls, link_replies, strict=False):
        for parent, raw in zip(group, statuses, strict=True):
            if raw != b"live":
                owed += [(child, parent, raw.decode()) for child in children]
    await dependencies.send_releases(redis, owed)
    return w.created()


async def write_gated(
    redis: RedisClient,
    settings: Settings,
    planned: Sequence[Planned],
    *,
    kind: str = "workflow",
    callbacks: Mapping[str, str] | None = None,
    callback_url: str | None = None,
    retry_of: RetryOf | None = None,
    commit: bool = True,
) -> Created:
    """Redis Cluster: the nodes behind a commit gate, then one commit step (see the module
    doc). `commit=False` stops where a crash before the commit would (for tests)."""
    w = _Writes(settings, planned, kind, callbacks, True, callback_url, retry_of)
    assert w.gate is not None
    home = w.home
    await note_waiting(redis, w.waiting_queues(), settings)
    # The gate first: it waits for the sentinel (never linked: only a sweep looks it up).
    gate = plan(GATE_JOB, EnqueueOptions(queue=home.name, after=[w.sentinel]), settings)
    header = script_header(home, settings, fresh=True)
    await scripts.script("enqueue")(
        redis,
        [home.due, home.levels, home.wake, home.index, home.index],
        [*header, *gate.row(w.gate, {})],
    )
    key, value, ttl_ms = w.record(await server_ms(redis))
    await redis.set(key, value, px=ttl_ms)
    for script_keys, args in w.enqueue_calls():
        await scripts.script("enqueue")(redis, script_keys, args)
    for job_id, batch_id in w.batch_members().items():
        await redis.hset(keys.of_job(job_id).state(job_id), JobState.BATCH, batch_id)  # type: ignore[misc]
    for children, parents in w.links():
        await dependencies.link(redis, children, parents, wait_s=settings.dependency_wait_s)
    await redis.sadd(keys.QUEUES, *w.queues())  # type: ignore[misc]
    if commit:
        released = await scripts.script("release")(
            redis, [home.due], [home.prefix, w.gate, w.sentinel, "complete"]
        )
        if w.gate.encode() not in released:
            raise WorkflowNotCommitted(
                f"workflow {w.id}: its gate was failed by the sweep before the commit "
                "(creation took longer than DEPENDENCY_SWEEP_S): none of its jobs will run"
            )
    return w.created()

"""Claiming: one script call per queue takes a batch of jobs and leases them to this worker.

The claimer returns what it took; the worker decides what to run. It also owns the two ways
a claim can go wrong on the wire:

- a claim whose reply is lost (the connection dropped after the script ran) is remembered by
  its claim id, and the next call recovers what it took (`reclaim.lua`): those jobs run at
  once, on the try the lost claim counted, instead of after a whole lease;
- an idle worker blocks on the queues' wake lists (a producer pushes a token per enqueue), and
  with one queue it sends the claim in the same pipeline, behind the BLPOP, so a job enqueued
  to an idle worker starts after one round trip.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient
from jobs.layout.records import JobDefinition, LeaseToken
from jobs.worker.attempt import Claimed
from jobs.worker.queue_order import ServedQueues

logger = logging.getLogger("jobs.worker")


@dataclass(slots=True)
class Claims:
    jobs: list[Claimed] = field(default_factory=list)
    next_due_ms: int = 0
    """When nothing was taken: the earliest due time seen (0: none known)."""
    server_ms: int = 0
    """The server's clock when the claim ran: how long to wait for `next_due_ms` is reckoned
    on it, not on the worker's clock (one minutes ahead would spin claiming, one behind would
    oversleep)."""

    def due_in_s(self) -> float | None:
        """Seconds until `next_due_ms` by the server's clock (None: nothing known)."""
        if not self.next_due_ms:
            return None
        return max((self.next_due_ms - self.server_ms) / 1000, 0.0)


class Claimer:
    def __init__(
        self,
        redis: RedisClient,
        worker_id: str,
        served: ServedQueues,
        lease_ms: int,
        legacy: bool,
    ) -> None:
        self._redis = redis
        self._worker_id = worker_id
        self.served = served
        self._lease_ms = lease_ms
        self._legacy = "1" if legacy else "0"
        self._claims = 0
        self._unconfirmed: list[tuple[keys.QueueKeys, str]] = []
        self._served_changed = asyncio.Event()
        """A `*` worker found new queues: a wait on the old ones' wake lists ends."""
        self._confirmed: dict[str, str] = {}
        """Per queue, the last claim whose reply came with jobs: its record can go."""
        """Claim calls whose reply never came (the script may have run)."""

    def serve(self, served: ServedQueues) -> None:
        """Claim from these queues from now on; a wait in progress ends to include them."""
        self.served = served
        self._served_changed.set()

    def new_claim_id(self) -> str:
        self._claims += 1
        return f"{self._worker_id}:{self._claims}"

    def claim_call(
        self, q: keys.QueueKeys, limit: int, claim_id: str
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of `claim.lua`; it also drops the record of this queue's last claim
        whose reply arrived (kept only for a lost reply: no command of its own)."""
        done = self._confirmed.pop(q.name, "")
        return (
            [q.due, q.levels, q.claim(claim_id), q.paused],
            [q.prefix, self._lease_ms, limit, self._worker_id, claim_id, self._legacy, done],
        )

    def mark_unconfirmed(self, q: keys.QueueKeys, claim_id: str) -> None:
        self._unconfirmed.append((q, claim_id))

    def confirm(self, q: keys.QueueKeys, claim_id: str) -> None:
        """The reply of this claim, which took jobs, arrived: its record can go with the next."""
        self._confirmed[q.name] = claim_id

    async def claim(self, limit: int) -> Claims:
        """Take up to `limit` jobs, queue after queue in this round's order."""
        out = Claims()
        if self._unconfirmed:
            out.jobs += await self._recover()
        script = scripts.script("claim")
        due_times = []
        for q in self.served.order():
            wanted = limit - len(out.jobs)
            if wanted <= 0:
                break
            claim_id = self.new_claim_id()
            try:
                reply = await self._send_once(script, *self.claim_call(q, wanted, claim_id))
            except RedisError:
                self.mark_unconfirmed(q, claim_id)
                if out.jobs:
                    return out  # run what was taken; the error shows on the next call
                raise
            taken, due = self.parse(reply, claim_id)
            out.server_ms = int(reply[2])
            if taken:
                self.confirm(q, claim_id)
            out.jobs += taken
            if due:
                due_times.append(due)
        if not out.jobs:
            out.next_due_ms = min(due_times, default=0)
        return out

    async def _send_once(self, script: scripts.Script, keys: list[str], args: list[Any]) -> Any:
        """Call `script` without a blind retry. redis-py's cluster client sends a command
        again after a connection error, also when the error came after the script ran: a
        claim sent twice leaves the first one's jobs to wait out their lease, unknown to the
        worker. In a cluster pipeline an error on the reply is returned, not retried (one on
        sending still is: nothing ran), so this worker learns of it and recovers the claim."""
        if not isinstance(self._redis, RedisCluster):
            return await script(self._redis, keys, args)  # a single client never resends
        for command, body in (("EVALSHA", script.sha), ("EVAL", script.source)):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.execute_command(command, body, len(keys), *keys, *args)
                (reply,) = await pipe.execute(raise_on_error=False)
            if not isinstance(reply, NoScriptError):  # EVALSHA on a node new to the script
                break
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def _recover(self) -> list[Claimed]:
        script = scripts.script("reclaim")
        recovered: list[Claimed] = []
        while self._unconfirmed:
            q, claim_id = self._unconfirmed[0]
            reply = await script(self._redis, [q.claim(claim_id)], [q.prefix, self._legacy])
            self._unconfirmed.pop(0)
            if reply:
                taken, _ = self.parse(reply, claim_id)
                logger.info("recovered a claim whose reply was lost: %d jobs", len(taken))
                recovered += taken
        return recovered

    def parse(self, reply: list[Any], claim_id: str) -> tuple[list[Claimed], int]:
        """claim.lua's reply: the jobs taken, and the next due time when none was."""
        due = int(float(reply[0])) if reply[0] else 0
        now = int(reply[2])
        # The token claim.lua wrote, or every renewal and settle would be refused.
        token = LeaseToken(self._worker_id, now, claim_id).encode()
        taken = []
        for i in range(3, len(reply), 4):
            raw, due = reply[i + 1], reply[i + 3]
            definition = JobDefinition.load(raw) if raw else None
            due_ms = int(float(due)) if due else 0
            taken.append(
                Claimed(reply[i].decode(), definition, int(reply[i + 2]), token, now, due_ms)
            )
        if taken and reply[1]:  # ids with an abort request: settled aborted, never run
            aborts = reply[1].decode().split()
            for claimed in taken:
                if claimed.job_id in aborts:
                    claimed.cancel_reason = "abort"
        return taken, due

    async def wait_then_claim(self, timeout_s: float, limit: int) -> Claims:
        """Block until a producer pushes a wake token (or `timeout_s` passes), then claim."""
        if self._unconfirmed or len(self.served.queues) > 1 or self.served.every:
            await self._wait_any(timeout_s)
            return await self.claim(limit)
        q = self.served.queues[0]
        claim_id = self.new_claim_id()
        script = scripts.script("claim")
        claim_keys, args = self.claim_call(q, limit, claim_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.blpop([q.wake], timeout=timeout_s)  # type: ignore[arg-type]
                # Not `pipe.evalsha`: redis-py refuses it in a cluster pipeline, though both
                # commands go to the queue's node (one slot) in one round trip all the same.
                pipe.execute_command("EVALSHA", script.sha, len(claim_keys), *claim_keys, *args)
                _, reply = await pipe.execute(raise_on_error=False)
        except RedisError:
            self.mark_unconfirmed(q, claim_id)
            raise
        if isinstance(reply, RedisConnectionError | RedisTimeoutError):
            # A cluster pipeline reports a dropped connection as the command's result: the
            # script may have run, as when the error is raised.
            self.mark_unconfirmed(q, claim_id)
            raise reply
        if isinstance(reply, Exception):  # e.g. NOSCRIPT after a Redis restart or a failover
            return await self.claim(limit)
        taken, due = self.parse(reply, claim_id)
        if taken:
            self.confirm(q, claim_id)
        return Claims(taken, 0 if taken else due, int(reply[2]))

    async def _wait_any(self, timeout_s: float) -> None:
        """Block on every served queue's wake list at once; return when one has a token.

        One BLPOP per queue (on a cluster the lists live in different slots)."""
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._redis.blpop([q.wake], timeout=timeout_s))  # type: ignore[arg-type]
            for q in self.served.queues
        ]
        waiters.append(asyncio.ensure_future(self._served_changed.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout_s + 1, return_when="FIRST_COMPLETED")
        finally:
            for waiter in waiters:
                waiter.cancel()
            for waiter in waiters:
                with contextlib.suppress(asyncio.CancelledError, RedisError):
                    await waiter
            self._served_changed.clear()

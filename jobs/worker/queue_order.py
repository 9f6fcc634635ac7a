"""Which queues a worker serves, and in which order it claims from them.

`WORKER_QUEUES=critical,default,low` is strict: a queue is served only while the ones before
it have nothing ready. `critical:6,default:3,low:1` is weighted: every claim round orders the
queues by a weighted random draw (Sidekiq's scheme), so `critical` comes first 6 times in 10
and no queue with a weight starves. Unset: the default queue alone.

`WORKER_QUEUES=*` serves every queue: the default one and each queue in the registry that
enqueues add to, re-read every `REFRESH_S` (a queue created later is served within seconds),
all with one weight (none starves).
"""

import random
from dataclasses import dataclass

from jobs.layout import keys
from jobs.layout.connection import RedisClient

EVERY = "*"
REFRESH_S = 2.0
"""How often a `*` worker re-reads the queue registry."""


class InvalidQueueSpec(ValueError):
    """`WORKER_QUEUES` could not be read."""


@dataclass(frozen=True, slots=True)
class ServedQueues:
    queues: tuple[keys.QueueKeys, ...]
    weights: tuple[int, ...] | None
    """None: strict order."""
    every: bool = False
    """`*`: every queue in the registry (`with_registered` follows it)."""

    @classmethod
    def parse(cls, spec: str, default: str) -> "ServedQueues":
        if spec.strip() == EVERY:
            return cls((keys.queue(default),), None, every=True)
        parts = [p.strip() for p in spec.split(",") if p.strip()] or [default]
        names, weights = [], []
        for part in parts:
            name, colon, weight = part.rpartition(":") if _weighted(part) else (part, "", "")
            try:
                names.append(keys.check_queue_name(name))
                weights.append(int(weight) if colon else None)
            except ValueError as exc:
                raise InvalidQueueSpec(f"WORKER_QUEUES entry {part!r}: {exc}") from None
        if len(set(names)) != len(names):
            raise InvalidQueueSpec(f"WORKER_QUEUES names a queue twice: {spec!r}")
        weighted = any(w is not None for w in weights)
        if weighted and not all(w is not None and w > 0 for w in weights):
            raise InvalidQueueSpec(
                f"WORKER_QUEUES: give every queue a weight of 1 or more, or none: {spec!r}"
            )
        queues = tuple(keys.queue(n) for n in names)
        return cls(queues, tuple(w or 0 for w in weights) if weighted else None)

    def with_registered(self, names: set[str]) -> "ServedQueues":
        """A `*` worker's queues once the registry names these: the default one first, then
        the rest by name, one weight each. Unchanged for a worker given its queues."""
        if not self.every:
            return self
        default = self.queues[0].name
        valid = sorted(n for n in names - {default} if keys.QUEUE_NAME.fullmatch(n))
        queues = (self.queues[0], *(keys.queue(n) for n in valid))
        return ServedQueues(queues, (1,) * len(queues), every=True)

    def names(self) -> list[str]:
        """What heartbeats say this worker serves (`*` for every queue)."""
        return [EVERY] if self.every else [q.name for q in self.queues]

    def order(self) -> list[keys.QueueKeys]:
        """The queues in the order to claim from, this round."""
        if self.weights is None or len(self.queues) == 1:
            return list(self.queues)
        pool, weights, ordered = list(self.queues), list(self.weights), []
        while pool:
            i = random.choices(range(len(pool)), weights)[0]
            ordered.append(pool.pop(i))
            weights.pop(i)
        return ordered

    def describe(self) -> str:
        if self.every:
            return EVERY
        if self.weights is None:
            return ",".join(q.name for q in self.queues)
        return ",".join(f"{q.name}:{w}" for q, w in zip(self.queues, self.weights, strict=True))


def _weighted(part: str) -> bool:
    """`name:6` has a weight; `arq:queue` (a name with a colon) has none."""
    head, colon, tail = part.rpartition(":")
    return bool(colon and head and tail.isdigit())


MAX_REGISTERED = 256
"""Most names read from the registry: only declared queues enter it (`jobs.declare.queues`),
but one filled by an older release (any name an enqueue gave) must not slow every read."""


async def registered_queues(redis: RedisClient, limit: int = MAX_REGISTERED) -> set[str]:
    """The queues enqueues have named (the registry `/queues` reads too): at most `limit`."""
    names: set[str] = set()
    async for member in redis.sscan_iter(keys.QUEUES, count=limit):
        name = member.decode(errors="replace")
        if keys.QUEUE_NAME.fullmatch(name):
            names.add(name)
            if len(names) >= limit:
                break
    return names

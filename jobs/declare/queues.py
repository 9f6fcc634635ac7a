"""Which queues exist: those something declares, never one a request makes up.

A queue exists because a job declares it (`@job(queue=...)`), the settings name it (`QUEUES`
for queues chosen per enqueue, `WORKER_QUEUES` for the ones a worker serves), or it is the
default one (`QUEUE_NAME`, and ARQ's `arq:queue`). An enqueue naming any other queue is refused
(`UnknownQueue`), so no client can create queues: every queue's keys, the registry
`jobsvc:queues` and the processes' per-queue caches stay as many as the declarations.

The truth is the process's own catalog and settings: the web validates what requests name with
its own, a worker (or a `JobClient` in another app) with its own. Web and workers normally share
one environment (Heroku config vars); in a rolling deploy a queue only the new release declares
is refused by the old web until it restarts.
"""

from collections.abc import Iterable

from jobs.declare.registry import DECLARED
from jobs.layout.ids import DEFAULT_QUEUE, QUEUE_NAME
from jobs.settings import Settings

SHOWN = 20
"""Known queues a refusal's message names (its `known` has them all)."""


class UnknownQueue(LookupError):
    """An enqueue named a queue nothing declares."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.queue = name
        self.known = sorted(known)
        shown = ", ".join(self.known[:SHOWN])
        if len(self.known) > SHOWN:
            shown += f" and {len(self.known) - SHOWN} more"
        super().__init__(
            f"no queue named {name!r} is declared (known: {shown}); declare it with "
            "@job(queue=...) or add it to the QUEUES setting"
        )


def worker_queue_names(spec: str) -> set[str]:
    """The queue names a `WORKER_QUEUES` value gives (`critical:6,default` names both; `*`
    none). Entries that are not queue names are left to the worker, which refuses them."""
    names = set()
    for part in spec.split(","):
        part = part.strip()
        head, colon, tail = part.rpartition(":")
        name = head if colon and head and tail.isdigit() else part
        if QUEUE_NAME.fullmatch(name):
            names.add(name)
    return names


def declared_queues(settings: Settings, catalog: Iterable[str] = ()) -> frozenset[str]:
    """Every queue this process knows: the default ones, `QUEUES`, `WORKER_QUEUES`, each
    declared job's queue (`catalog`: more queues, e.g. a host app's catalog's)."""
    names = {DEFAULT_QUEUE, settings.queue_name, *settings.queues}
    names |= worker_queue_names(settings.worker_queues)
    names.update(d.options.queue for d in DECLARED.values() if d.options.queue)
    names.update(catalog)
    return frozenset(names)


def check_declared(name: str, settings: Settings) -> str:
    """`name` if declared, else `UnknownQueue` (naming the known ones)."""
    known = declared_queues(settings)
    if name not in known:
        raise UnknownQueue(name, known)
    return name

"""The queues the tests use, declared as a deployment declares them (`QUEUES`): by the
`settings` fixture and in every process's environment (`tests.support.processes.BASE_ENV`).
An enqueue naming any other queue is refused (`jobs.declare.queues`), in tests too."""

import itertools
from collections import defaultdict

FIXED = (
    *("other", "nobody", "elsewhere", "a", "b", "c", "hooks"),
    *("fan-a", "fan-b", "chain-a", "chain-b", "cr-a", "cr-b", "k-a", "k-b", "wf-a", "wf-b"),
    *("ex-a", "ex-b", "ex-c", "parq", "childq", "wfq", "lonely"),
    *("bound-c", "bound-p", "bound-wf", "bound-wf2", "bound-x"),
)
"""Names tests spell out."""

PREFIXES = (
    *("q", "a", "b", "c", "aborted", "busy", "first", "second", "hooks", "late", "lonely"),
    *("list-a", "list-b", "one", "two", "three", "other", "paused", "served"),
)
"""`new_queue(prefix)`'s prefixes; each gives `PER_PREFIX` names."""
PER_PREFIX = 4

TEST_QUEUES = (*FIXED, *(f"{p}-{i}" for p in PREFIXES for i in range(PER_PREFIX)))

_next: defaultdict[str, "itertools.count[int]"] = defaultdict(itertools.count)


def new_queue(prefix: str = "q") -> str:
    """A declared queue of its own for a test (each test starts from an empty database; the
    names cycle, so one test gets up to `PER_PREFIX` different ones per prefix)."""
    if prefix not in PREFIXES:
        raise ValueError(f"add {prefix!r} to tests.support.queues.PREFIXES")
    return f"{prefix}-{next(_next[prefix]) % PER_PREFIX}"

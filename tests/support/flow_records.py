"""Reading what the flow-control test jobs (tests/support/jobs/flow_jobs.py) recorded, all in server
µs: their tries' spans, the starts of tries that never ended, the rate limiter's admissions."""

from dataclasses import dataclass

from jobs.layout.connection import RedisClient
from tests.support.jobs.flow_jobs import ADMISSIONS, SPANS, STARTS


@dataclass(frozen=True, slots=True)
class Span:
    label: str
    start: int
    end: int


async def spans(redis: RedisClient) -> list[Span]:
    """Every try that ran to its end."""
    out = []
    for raw in await redis.lrange(SPANS, 0, -1):  # type: ignore[misc]
        label, start, end = raw.decode().split()
        out.append(Span(label, int(start), int(end)))
    return out


async def unfinished(redis: RedisClient, until_us: int) -> list[Span]:
    """Tries that began but recorded no end (killed): running, as far as anyone knows, from
    their start until `until_us` (e.g. the server's clock at the kill)."""
    ended = {(s.label, s.start) for s in await spans(redis)}
    out = []
    for raw in await redis.lrange(STARTS, 0, -1):  # type: ignore[misc]
        label, start = raw.decode().split()
        if (label, int(start)) not in ended:
            out.append(Span(label, int(start), until_us))
    return out


async def admissions(redis: RedisClient) -> list[tuple[int, str]]:
    """(server µs, label): when the rate limiter admitted each try that ran, in time order."""
    out = []
    for raw in await redis.lrange(ADMISSIONS, 0, -1):  # type: ignore[misc]
        label, admitted = raw.decode().split()
        out.append((int(admitted), label))
    return sorted(out)


async def count(redis: RedisClient, key: str = SPANS) -> int:
    return int(await redis.llen(key))  # type: ignore[misc]


def most_at_once(spans: list[Span]) -> int:
    """The most spans open at one instant (an end at the same µs as a start comes first)."""
    edges = sorted([(s.start, 1) for s in spans] + [(s.end, -1) for s in spans])
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    return peak


def overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def most_in_window(times: list[int], window: int) -> int:
    """The most of `times` in any half-open window [t, t + window)."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best


async def server_us(redis: RedisClient) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1_000_000 + int(micros)

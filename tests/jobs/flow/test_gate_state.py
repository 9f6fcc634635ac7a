"""`jobs.flow.gate_state` reads the gates the scripts keep, under the names `jobs.layout.keys`
gives."""

from jobs.declare.registry import load_catalog
from jobs.enqueue.submit import enqueue_many
from jobs.flow.gate_state import GateState, read_gates
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.records import split_gate
from jobs.reading.job_record import load_jobs
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background

QUEUE = keys.DEFAULT_QUEUE


def test_gate_names_split_into_kind_job_and_key() -> None:
    assert split_gate("c:send", ["send"]) == ("concurrency", "send", None)
    assert split_gate("r:send:acme:eu", ["send"]) == ("rate_limit", "send", "acme:eu")
    assert split_gate("c:a:b:k", ["a", "a:b"]) == ("concurrency", "a:b", "k")  # longest name
    assert split_gate("c:other:k", []) == ("concurrency", "other", "k")
    assert split_gate("x:send", ["send"]) is None


async def _gate(redis: RedisClient, settings: Settings, gate: str) -> GateState | None:
    flows = {name: spec.flow for name, spec in load_catalog(settings).items()}
    for queue in await read_gates(redis, [QUEUE, "empty"], flows):
        for state in queue.gates:
            if state.gate == gate:
                return state
    return None


async def test_a_full_concurrency_gate_shows_its_slots_and_held_jobs(
    redis: RedisClient, settings: Settings
) -> None:
    async with worker_in_background(settings, redis, worker_concurrency=10):
        enqueued = await enqueue_many(
            redis,
            "three_at_a_time",
            [{"label": str(i), "hold_s": 30} for i in range(5)],
            settings=settings,
        )

        async def two_held() -> bool:
            state = await _gate(redis, settings, "c:three_at_a_time")
            return state is not None and state.held == 2 and state.running == 3

        await eventually(two_held)
        state = await _gate(redis, settings, "c:three_at_a_time")
        assert state is not None
        assert (state.kind, state.job, state.key, state.limit) == (
            "concurrency",
            "three_at_a_time",
            None,
            3,
        )
        assert state.next_timer_ms is not None  # the earliest lease end of the full gate
        q = keys.queue(QUEUE)  # the reader's key names are the scripts'
        assert await redis.zcard(q.held("c:three_at_a_time")) == 2
        assert await redis.zcard(q.running("c:three_at_a_time")) == 3
        assert await redis.sismember(q.gates, "c:three_at_a_time")  # type: ignore[misc]
        views = await load_jobs(redis, [e.job_id for e in enqueued], {})
        waiting = [v for v in views if v is not None and v.waiting_for == "concurrency"]
        assert len(waiting) == 2 and all(v.status == "queued" for v in waiting)


async def test_a_rate_gate_shows_its_next_admission(redis: RedisClient, settings: Settings) -> None:
    async with worker_in_background(settings, redis):
        await enqueue_many(
            redis, "twenty_a_second", [{"label": str(i)} for i in range(40)], settings=settings
        )
        seen: list[GateState] = []

        async def held_back() -> bool:
            state = await _gate(redis, settings, "r:twenty_a_second")
            if state is not None and state.held:
                seen.append(state)
            return bool(seen)

        await eventually(held_back)
        state = seen[0]
        assert (state.kind, state.interval_us, state.burst) == ("rate_limit", 50_000, 1)
        assert state.next_admission_ms is not None and state.running is None
        assert await redis.exists(keys.queue(QUEUE).rate_tat("r:twenty_a_second"))

        async def drained() -> bool:
            return await _gate(redis, settings, "r:twenty_a_second") is None

        await eventually(drained)

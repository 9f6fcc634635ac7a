"""A worker's slots (`jobs.worker.capacity`): one task per claimed try, at most `capacity`;
the claim loop waits for room, for more room under load, and is woken to stop."""

import asyncio
from collections.abc import Awaitable

from jobs.worker.attempt import Claimed
from jobs.worker.capacity import Slots

GUARD_S = 10
"""A deadline for waits that must end (a hang fails the test instead of stalling it)."""


class Tries:
    """Slots whose tries run until the test ends them, one by one."""

    def __init__(self, capacity: int) -> None:
        self.slots = Slots(capacity, self._run)
        self.ends: dict[str, asyncio.Event] = {}
        self.began: dict[str, asyncio.Event] = {}
        self.cancelled: list[str] = []

    async def _run(self, claimed: Claimed) -> None:
        self.began[claimed.job_id].set()
        try:
            await self.ends.setdefault(claimed.job_id, asyncio.Event()).wait()
        except asyncio.CancelledError:
            self.cancelled.append(claimed.job_id)
            raise

    def start(self, *job_ids: str) -> int:
        for job_id in job_ids:
            self.ends.setdefault(job_id, asyncio.Event())
            self.began.setdefault(job_id, asyncio.Event())
        return self.slots.start(
            Claimed(job_id, None, 1, "token", n) for n, job_id in enumerate(job_ids)
        )

    async def running(self, *job_ids: str) -> None:
        """Until the tries' bodies have begun."""
        await asyncio.wait_for(asyncio.gather(*(self.began[j].wait() for j in job_ids)), GUARD_S)

    async def end(self, *job_ids: str) -> None:
        tasks = [self.slots.running[job_id].task for job_id in job_ids]
        for job_id in job_ids:
            self.ends[job_id].set()
        await asyncio.wait_for(asyncio.gather(*(t for t in tasks if t)), GUARD_S)


async def guarded(wait: Awaitable[None]) -> None:
    await asyncio.wait_for(wait, GUARD_S)


async def test_one_task_per_try_and_a_try_already_running_is_not_started_twice() -> None:
    tries = Tries(capacity=3)
    assert tries.start("a", "b") == 2
    assert tries.start("b", "c") == 1  # "b" runs already (a recovered claim overlapping it)
    assert tries.slots.free == 0 and set(tries.slots.running) == {"a", "b", "c"}
    assert tries.slots.oldest_started_ms() == 0
    await tries.end("a")
    assert tries.slots.free == 1 and "a" not in tries.slots.running
    await tries.end("b", "c")
    assert tries.slots.free == 3 and tries.slots.oldest_started_ms() == 0


async def test_a_full_worker_waits_for_room_until_a_try_ends() -> None:
    tries = Tries(capacity=2)
    tries.start("a", "b")
    waiting = asyncio.create_task(tries.slots.room())
    await tries.end("a")
    await guarded(waiting)
    assert tries.slots.free == 1
    await tries.end("b")


async def test_under_load_room_waits_for_as_many_slots_as_wanted() -> None:
    tries = Tries(capacity=3)
    tries.start("a", "b", "c")
    # A linger far longer than the test: the wait ends because two slots are free.
    waiting = asyncio.create_task(tries.slots.room(wanted=2, linger_s=3600))
    await tries.end("a")
    assert not waiting.done()  # one free slot: it lingers for the second
    await tries.end("b")
    await guarded(waiting)
    assert tries.slots.free == 2
    await tries.end("c")


async def test_the_linger_bounds_the_wait_for_more_room() -> None:
    tries = Tries(capacity=3)
    tries.start("a", "b", "c")
    waiting = asyncio.create_task(tries.slots.room(wanted=3, linger_s=0.01))
    await tries.end("a")
    await guarded(waiting)
    assert tries.slots.free == 1  # it went with the one slot it had
    await tries.end("b", "c")


async def test_wake_ends_a_wait_for_room_and_every_later_one() -> None:
    tries = Tries(capacity=1)
    tries.start("a")
    waiting = asyncio.create_task(tries.slots.room())
    tries.slots.wake()
    await guarded(waiting)
    await guarded(tries.slots.room(wanted=5, linger_s=3600))
    assert tries.slots.free == 0
    await tries.end("a")


async def test_a_try_is_cancelled_once_with_the_first_reason() -> None:
    tries = Tries(capacity=2)
    tries.start("a")
    await tries.running("a")
    claimed = tries.slots.running["a"]
    tries.slots.cancel("a", "abort")
    tries.slots.cancel("a", "shutdown")
    tries.slots.cancel("unknown", "abort")  # not running here: nothing to cancel
    assert claimed.task is not None
    await asyncio.gather(claimed.task, return_exceptions=True)
    assert claimed.cancel_reason == "abort" and tries.cancelled == ["a"]
    assert tries.slots.free == 2


async def test_winding_down_in_a_hurry_cancels_what_still_runs_as_shutdown() -> None:
    tries = Tries(capacity=2)
    tries.start("a", "b")
    claimed = dict(tries.slots.running)
    hurry = asyncio.Event()
    hurry.set()
    await guarded(tries.slots.wind_down(grace_s=None, hurry=hurry))
    assert {c.cancel_reason for c in claimed.values()} == {"shutdown"}
    assert sorted(tries.cancelled) == ["a", "b"] and tries.slots.free == 2


async def test_a_try_cancelled_before_its_first_step_frees_its_slot() -> None:
    tries = Tries(capacity=2)
    tries.start("a")
    task = tries.slots.running["a"].task
    assert task is not None
    tries.slots.cancel("a", "abort")  # in the same loop round as its start: the body never runs
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), GUARD_S)
    assert task.cancelled() and not tries.began["a"].is_set()
    assert tries.slots.running == {} and tries.slots.free == 2


async def test_a_new_claim_of_a_job_whose_stale_try_still_runs_takes_its_place() -> None:
    tries = Tries(capacity=2)
    tries.start("a")
    await tries.running("a")
    stale = tries.slots.running["a"]
    # The worker stalled past the lease and claimed the job again: a new try, a new token.
    new = Claimed("a", None, 2, "new-token", 5)
    assert tries.slots.start([new]) == 1
    assert stale.cancel_reason == "lost" and new.after is stale.task
    assert stale.task is not None
    await asyncio.wait_for(asyncio.gather(stale.task, return_exceptions=True), GUARD_S)
    # The stale try's end leaves the new one its slot (and its lease renewals).
    assert tries.slots.running == {"a": new} and tries.slots.free == 1
    assert tries.cancelled == ["a"]
    await tries.end("a")
    assert tries.slots.running == {} and tries.slots.free == 2

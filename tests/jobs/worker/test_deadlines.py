"""Job timeouts share one loop timer (`jobs.worker.deadlines`): it fires for the earliest deadline,
whichever try started first, and never cuts off a try that ended in time."""

import asyncio

from jobs.worker.deadlines import Deadlines


async def test_the_earliest_deadline_fires_and_an_ended_try_is_left_alone() -> None:
    expired: list[str] = []
    fired = asyncio.Event()

    def expire(job_id: str) -> None:
        expired.append(job_id)
        fired.set()

    deadlines = Deadlines(expire)
    deadlines.watch("long", 300)
    deadlines.watch("ended", 0.01)  # arms the timer; ends before it fires
    deadlines.unwatch("ended")
    deadlines.watch("short", 0.05)  # later than the armed timer: no re-arm, found when it fires
    await asyncio.wait_for(fired.wait(), 10)
    assert expired == ["short"]
    deadlines.unwatch("long")

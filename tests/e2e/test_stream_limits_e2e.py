"""Open event streams and long-polls are capped per web process, and an event stream ends
after `STREAM_MAX_S`: against a real web process (issue 23: 500 streams + 500 long-polls
held 1,028 descriptors and 51 MB, and a pinged stream never ended)."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.support.processes import Processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

CAP = 4


async def _open_stream(stack: AsyncExitStack, url: str, job_id: str) -> AsyncIterator[str]:
    """An event stream on its own connection, open once its first event has arrived; its
    lines (which the caller keeps: collected, they would close the stream)."""
    client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
    response = await stack.enter_async_context(client.stream("GET", f"/jobs/{job_id}/events"))
    assert response.status_code == 200
    lines = response.aiter_lines()
    while not (await anext(lines)).startswith("data: "):
        pass
    return lines


async def test_streams_past_the_cap_get_a_503_and_the_rest_of_the_api_answers(
    processes: Processes,
) -> None:
    url = await processes.web(MAX_STREAMS_PER_PROCESS=str(CAP))
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        job_id = (await api.post("/jobs/ping", params={"defer_by": 3600}, json={})).json()["id"]

        async def slot_free() -> bool:
            """A long-poll of 50 ms: it needs a slot for that long."""
            probe = await api.get(f"/jobs/{job_id}", params={"wait": 0.05})
            assert probe.status_code in (200, 503), probe.text
            return probe.status_code == 200

        async def full() -> bool:
            return not await slot_free()

        async with AsyncExitStack() as streams, AsyncExitStack() as first_stream:
            held = [await _open_stream(first_stream, url, job_id)]
            for _ in range(CAP - 2):
                held.append(await _open_stream(streams, url, job_id))
            poller = httpx.AsyncClient(base_url=url, timeout=120)

            def start_long_poll() -> "asyncio.Task[httpx.Response]":
                return asyncio.create_task(poller.get(f"/jobs/{job_id}", params={"wait": 60}))

            long_poll = start_long_poll()

            async def long_poll_holds_the_last_slot() -> bool:
                nonlocal long_poll
                if long_poll.done():  # it came while a probe held the last slot: again
                    assert long_poll.result().status_code == 503
                    long_poll = start_long_poll()
                    return False
                return await full()

            await eventually(long_poll_holds_the_last_slot)

            refused = await api.get(f"/jobs/{job_id}/events")
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "too_many_streams"
            assert int(refused.headers["retry-after"]) > 0
            # Everything else still answers.
            assert (await api.get("/health")).status_code == 200
            assert (await api.post("/jobs/ping", json={})).status_code == 202
            assert (await api.get(f"/jobs/{job_id}")).status_code == 200  # no wait: no slot

            await first_stream.aclose()  # a client leaves: its slot is free again
            await eventually(slot_free)
            held.append(await _open_stream(streams, url, job_id))
            await eventually(full)

            long_poll.cancel()  # a long-poll's client leaves, 60 s before its deadline
            with contextlib.suppress(asyncio.CancelledError):
                await long_poll
            await poller.aclose()
            await eventually(slot_free)
        await eventually(slot_free)


async def test_an_event_stream_ends_after_its_lifetime_and_a_new_one_starts_with_the_view(
    processes: Processes,
) -> None:
    url = await processes.web(STREAM_MAX_S="1")
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        job_id = (await client.post("/jobs/ping", params={"defer_by": 3600}, json={})).json()["id"]
        for last_event_id in (None, "0"):  # the second as EventSource reconnects
            headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
            async with client.stream("GET", f"/jobs/{job_id}/events", headers=headers) as stream:
                lines = [line async for line in stream.aiter_lines()]  # ends by itself
            views = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
            assert [view["status"] for view in views] == ["deferred"]
            assert "id: 0" in lines
        assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "deferred"

"""A cap on the event streams and long-polls one web process holds open at once.

Each holds a socket (a file descriptor), a task and its buffers for as long as it lasts, and an
event stream lasts as long as its client likes (pings keep it alive). Past the cap a new one is
a 503 `too_many_streams` with `Retry-After`; every other route still answers. A slot is taken
before the response starts and given back when the request ends, however it ends (the client
gone, the stream over, an error): the holder is a context manager around the whole request.
One process's count, not global: file descriptors and memory are per process too.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress

from starlette.requests import Request

from service.errors import TooManyStreams

RETRY_AFTER_S = 5


class StreamSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One slot while the block runs; `TooManyStreams` (a 503) if none is free."""
        if self.open >= self.limit:
            raise TooManyStreams(
                f"this process holds {self.limit} event streams and long-polls already "
                "(MAX_STREAMS_PER_PROCESS); try again shortly",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1


@asynccontextmanager
async def until_disconnected(request: Request) -> AsyncIterator[asyncio.Event]:
    """An event set when the client of `request` goes away. A long-poll answers with a plain
    response, which Starlette does not cancel when its client leaves: without this it would
    hold its slot until its deadline. (An event stream is cancelled by Starlette itself.)"""
    gone = asyncio.Event()

    async def listen() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # the (empty) body of a GET
        gone.set()

    listener = asyncio.create_task(listen())
    try:
        yield gone
    finally:
        listener.cancel()
        with suppress(asyncio.CancelledError):
            await listener


async def changed_or_gone(changed: asyncio.Event, gone: asyncio.Event, within_s: float) -> bool:
    """Wait for `changed`, the client leaving, or `within_s` seconds; whether the client left."""
    waits = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(gone.wait())]
    try:
        await asyncio.wait(waits, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return gone.is_set()

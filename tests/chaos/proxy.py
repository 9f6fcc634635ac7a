"""A TCP proxy between one process and Redis, that the harness turns into a bad network.

- `silence()`: a partition. The proxy stops reading and writing both ways; sockets stay open
  (nothing is reset, as when a link or a switch goes away): bytes wait in the kernel's buffers
  and arrive once `restore()` is called, as TCP's retransmissions would deliver them.
- `delay(lo, hi)`: every chunk from Redis is held a random lo..hi seconds (in order): that much
  added to each round trip.
- `flap()`: every connection is reset at once and new ones are refused until `restore()`.
"""

import asyncio
import contextlib
import random
import time

from jobs.layout.embedded_server import free_port

CHUNK = 65536


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._open = asyncio.Event()
        self._open.set()
        self._delay: tuple[float, float] | None = None
        self._refusing = False
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None
        self.resets = 0
        """Connections reset by `flap()`."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        self.restore()
        self._reset_all()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def silence(self) -> None:
        self._open.clear()

    def delay(self, low_s: float, high_s: float) -> None:
        self._delay = (low_s, high_s)

    def flap(self) -> None:
        self._refusing = True
        self.resets += len(self._pairs)
        self._reset_all()

    def restore(self) -> None:
        self._delay = None
        self._refusing = False
        self._open.set()

    def _reset_all(self) -> None:
        for client, upstream in list(self._pairs):
            for writer in (client, upstream):
                writer.transport.abort()
        self._pairs.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        await self._open.wait()  # a partition: the connection is accepted, and nothing happens
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:  # Redis is down: so is the connection
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer, delayed=False)),
            asyncio.ensure_future(self._pump(up_reader, writer, delayed=True)),
        ]
        try:
            # Either side's end (EOF, reset) is the connection's: the other is cut too.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            self._pairs.discard(pair)
            for w in pair:
                w.transport.abort()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, delayed: bool
    ) -> None:
        """Copy `source` to `sink` until EOF; chunks held back in order under `delay`."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        writer = asyncio.ensure_future(self._deliver(queue, sink))
        last = 0.0
        try:
            while True:
                await self._open.wait()
                try:
                    data = await source.read(CHUNK)
                except OSError:
                    break
                if not data:
                    break
                at = time.monotonic()
                if delayed and self._delay is not None:
                    at = max(last, at + random.uniform(*self._delay))
                last = at
                queue.put_nowait((at, data))
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(OSError):
                await writer
        finally:
            writer.cancel()

    async def _deliver(
        self, queue: "asyncio.Queue[tuple[float, bytes]]", sink: asyncio.StreamWriter
    ) -> None:
        while True:
            at, data = await queue.get()
            if not data:
                return
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._open.wait()
            sink.write(data)
            await sink.drain()

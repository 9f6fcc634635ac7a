"""A TLS front for the test Valkey: what a `rediss://` client meets on Heroku Redis, a server
that speaks TLS with the certificate it was given. The embedded Valkey is built without TLS
(`Failed finding TLS support`), so this proxy ends TLS and passes the bytes on to it: the
handshake, the certificate check and every command are real."""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

from tests.support.certificates import ServerCertificate


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def tls_front(
    certificate: ServerCertificate, redis_host: str, redis_port: int
) -> AsyncIterator[int]:
    """Listen on 127.0.0.1 (a free port, yielded) with TLS; each connection goes on to the
    plain server at `redis_host:redis_port`. A handshake the client breaks off (it refused the
    certificate) ends that connection only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.certificate, certificate.key)
    open_writers: set[asyncio.StreamWriter] = set()

    async def serve(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        upstream_reader, upstream = await asyncio.open_connection(redis_host, redis_port)
        open_writers.update((client, upstream))
        await asyncio.gather(_pipe(client_reader, upstream), _pipe(upstream_reader, client))

    # 127.0.0.1: "localhost" may also name ::1, which would get a port of its own.
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in open_writers:
            writer.close()

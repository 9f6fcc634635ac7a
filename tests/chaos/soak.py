"""The soak run (`make soak`, `python -m tests.chaos.soak`): `SOAK_SECONDS` (an hour by default)
of enqueues at a steady `SOAK_RATE` a second on one web process and `SOAK_WORKERS` workers,
then the checks that only time shows:

- Redis memory back to its baseline once the results have expired (the soak keeps results and
  failed jobs `SOAK_TTL_S`, so their expiry fits in the run; the listing entries of expired
  jobs go with the housekeeping job, which the soak runs at the end rather than wait for
  minute 5 or 35 of the hour);
- the RSS of the web process and of every worker flat: the median of the last quarter of the
  samples within `SOAK_RSS_TOLERANCE` of the first quarter's (plus `RSS_SLACK_MB`, the noise of
  an allocator's arenas);
- no growth in keys per job: the keys Redis holds above the baseline, per job acknowledged in
  the last `SOAK_TTL_S`, as many in the last quarter as in the first.

Samples are taken every `SOAK_SAMPLE_S` after the first `SOAK_TTL_S` (the warm-up: until then
results accumulate and nothing has expired yet). Prints the figures and writes them (and every
sample) to `soak-figures.json` in `SOAK_DIR`; exits 1 on a failed check.
"""

import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.layout.connection import create_redis
from jobs.settings import Settings
from tests.support.durable_valkey import DurableValkey
from tests.support.processes import Processes

JOB = "soak_work"
RSS_SLACK_MB = 4.0
KEYS_SLACK = 3
"""Keys left above the baseline that still pass (the housekeeping job's own listing entry)."""
MEMORY_SLACK_BYTES = 256 * 1024
"""Above the baseline `used_memory` that still counts as back (a hash table not yet shrunk, the
per-minute stats buckets of the hour)."""
MINUTES = "jobsvc:minute:*"
"""Per-minute stats buckets (`jobs.reading.stats`): bounded by time (kept 2 h), not by jobs, so
not counted as the jobs' keys."""
PRIME_JOBS = 100
SENDERS = 16
"""Senders, each at rate / SENDERS: a call may take up to SENDERS / rate (0.5 s at 30/s) on a
loaded machine before the rate drops."""


class SoakRun(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True)

    soak_seconds: float = 3600.0
    soak_rate: float = 30.0
    """Enqueues a second (2 shared cores: a modest, steady rate)."""
    soak_workers: int = 2
    soak_ttl_s: int = 30
    """Result, failed-job and grace TTL of the soak's jobs."""
    soak_sample_s: float = 10.0
    soak_rss_tolerance: float = 0.10
    soak_keys_tolerance: float = 0.15
    soak_dir: Path | None = None


@dataclass
class Sample:
    at_s: float
    rss_mb: dict[str, float]
    used_memory: int
    keys: int
    recent_acks: int

    @property
    def keys_per_job(self) -> float | None:
        return None if not self.recent_acks else self.keys / self.recent_acks


@dataclass
class Soak:
    config: SoakRun
    directory: Path
    samples: list[Sample] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)
    figures: dict[str, Any] = field(default_factory=dict)
    primed: int = 0
    failures: list[str] = field(default_factory=list)

    async def run(self) -> None:
        config = self.config
        server = DurableValkey(self.directory / "valkey", appendfsync="everysec")
        await server.start()
        redis = create_redis(Settings(redis_url=server.url))
        processes = Processes(server.url, redis, self.directory)
        ttl = str(config.soak_ttl_s)
        env = {
            "JOB_MODULES": "tests.support.jobs.soak_jobs",
            "EXAMPLES": "false",
            "CRON_ENABLED": "false",
            "RESULT_TTL_S": ttl,
            "FAILED_TTL_S": ttl,
            "RESULT_GRACE_S": ttl,
            "LOG_LEVEL": "WARNING",  # an hour of per-job lines would fill the disk, not prove much
        }
        try:
            url = await processes.web(**env)
            workers = [await processes.worker(**env) for _ in range(config.soak_workers)]
            pids = {"web": processes.started[0].pid}
            pids |= {f"worker-{i}": w.pid for i, w in enumerate(workers)}
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                await self._prime(client, redis)
                base_memory, base_keys = await _memory(redis), await _job_keys(redis)
                base_families = await _families(redis)
                self.figures["redis_dataset_baseline"] = await _memory(redis, "used_memory_dataset")
                began = time.monotonic()
                stop = asyncio.Event()
                sampling = asyncio.ensure_future(self._sample(redis, pids, began, base_keys, stop))
                await self._produce(client, began)
                stop.set()
                await sampling
                drained_s = await self._drain(client)
                await self._expire(client, redis)
                final_memory, final_keys = await _memory(redis), await _job_keys(redis)
                self.figures["redis_dataset_final"] = await _memory(redis, "used_memory_dataset")
                left = await _families(redis) - base_families
                crashed = [name for name, pid in pids.items() if not _alive(pid)]
        finally:
            processes.kill_all()
            await redis.aclose()
            server.kill()
        self._check(base_memory, final_memory, base_keys, final_keys, left, crashed, drained_s)

    async def _prime(self, client: httpx.AsyncClient, redis: Any) -> None:
        """`PRIME_JOBS` jobs run and expired before the baseline: what the first jobs create
        once and keep (scripts loaded, stats histograms, a queue's counters) is in the baseline,
        so "back to the baseline" compares like with like."""
        for n in range(1, PRIME_JOBS + 1):
            response = await client.post(f"/jobs/{JOB}", json={"n": n})
            response.raise_for_status()
        self.ack_times = [0.0] * PRIME_JOBS
        await self._drain(client)
        await self._expire(client, redis)
        self.primed = PRIME_JOBS
        self.ack_times = []

    async def _produce(self, client: httpx.AsyncClient, began: float) -> None:
        """`SENDERS` loops, each on its own schedule at rate / SENDERS (a late send is not made
        up for with a burst: the rate stays steady)."""
        interval = SENDERS / self.config.soak_rate
        numbers = iter(range(PRIME_JOBS + 1, 1 << 62))

        async def sender(offset: float) -> None:
            due = began + offset
            while (now := time.monotonic()) < began + self.config.soak_seconds:
                await asyncio.sleep(max(0.0, due - now))
                due = max(due + interval, time.monotonic() - interval)
                n = next(numbers)
                try:
                    response = await client.post(f"/jobs/{JOB}", json={"n": n})
                except httpx.HTTPError as exc:
                    self.refusals[type(exc).__name__] += 1
                    continue
                if response.status_code == 202:
                    self.ack_times.append(time.monotonic())
                else:
                    self.refusals[str(response.status_code)] += 1

        await asyncio.gather(*(sender(i * interval / SENDERS) for i in range(SENDERS)))

    async def _sample(
        self, redis: Any, pids: dict[str, int], began: float, base_keys: int, stop: asyncio.Event
    ) -> None:
        ttl = self.config.soak_ttl_s
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.config.soak_sample_s)
                return
            except TimeoutError:
                pass
            now = time.monotonic()
            if now - began < ttl:
                continue  # the warm-up: nothing has expired yet
            recent = sum(1 for t in self.ack_times if t >= now - ttl)
            self.samples.append(
                Sample(
                    at_s=round(now - began, 1),
                    rss_mb={name: _rss_mb(pid) for name, pid in pids.items()},
                    used_memory=await _memory(redis),
                    keys=await _job_keys(redis) - base_keys,
                    recent_acks=recent,
                )
            )

    async def _drain(self, client: httpx.AsyncClient) -> float:
        """Until every acknowledged job is final (by the workers' counts); seconds it took."""
        began = time.monotonic()
        while time.monotonic() - began < 120:
            stats = (await client.get("/stats")).json()
            done = sum(j["complete"] + j["failed"] for j in stats["jobs"] if j["name"] == JOB)
            if done >= self.primed + len(self.ack_times):
                self.figures["jobs_final"] = done - self.primed
                return round(time.monotonic() - began, 1)
            await asyncio.sleep(0.5)
        self.failures.append("the acknowledged jobs did not all finish within 120 s")
        return -1.0

    async def _expire(self, client: httpx.AsyncClient, redis: Any) -> None:
        """Wait for the results to expire, run the housekeeping job (the listing entries of
        expired jobs), then until no key has gone for a TTL (the housekeeping job's own record
        expires too), at most twice the TTL and a minute."""
        ttl = self.config.soak_ttl_s
        await asyncio.sleep(ttl + 2)
        response = await client.post("/cron/cleanup_job_records/run")
        if response.status_code != 202:
            self.failures.append(f"housekeeping not run: {response.status_code} {response.text}")
        deadline = time.monotonic() + ttl * 2 + 60
        count, since = await _job_keys(redis), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < ttl + 2:
            await asyncio.sleep(1)
            now_count = await _job_keys(redis)
            if now_count != count:
                count, since = now_count, time.monotonic()

    def _check(
        self,
        base_memory: int,
        final_memory: int,
        base_keys: int,
        final_keys: int,
        left: Counter[str],
        crashed: list[str],
        drained_s: float,
    ) -> None:
        config = self.config
        quarter = max(1, len(self.samples) // 4)
        first, last = self.samples[:quarter], self.samples[-quarter:]
        rss: dict[str, dict[str, float]] = {}
        for name in self.samples[0].rss_mb if self.samples else []:
            a = statistics.median(s.rss_mb[name] for s in first)
            b = statistics.median(s.rss_mb[name] for s in last)
            rss[name] = {"first_quarter_mb": round(a, 1), "last_quarter_mb": round(b, 1)}
            if b > a * (1 + config.soak_rss_tolerance) + RSS_SLACK_MB:
                self.failures.append(f"{name} RSS grew: {a:.1f} MB -> {b:.1f} MB")
        per_job_first = _median_keys_per_job(first)
        per_job_last = _median_keys_per_job(last)
        if per_job_first and per_job_last:
            if per_job_last > per_job_first * (1 + config.soak_keys_tolerance):
                self.failures.append(
                    f"keys per job grew: {per_job_first:.2f} -> {per_job_last:.2f}"
                )
        else:
            self.failures.append("too few samples to compare keys per job")
        if final_memory > base_memory + MEMORY_SLACK_BYTES:
            self.failures.append(
                f"Redis memory not back: {base_memory} -> {final_memory} bytes (left: {left})"
            )
        if final_keys > base_keys + KEYS_SLACK:
            self.failures.append(f"keys not back: {base_keys} -> {final_keys} (left: {left})")
        if crashed:
            self.failures.append(f"processes exited: {crashed}")
        acks = len(self.ack_times)
        if acks < config.soak_rate * config.soak_seconds * 0.9:
            self.failures.append(f"rate not held: {acks} jobs in {config.soak_seconds:.0f} s")
        peak = max((s.used_memory for s in self.samples), default=0)
        self.figures |= {
            "seconds": config.soak_seconds,
            "rate_per_s": config.soak_rate,
            "workers": config.soak_workers,
            "ttl_s": config.soak_ttl_s,
            "jobs_acknowledged": acks,
            "refusals": dict(self.refusals),
            "drain_s": drained_s,
            "samples": len(self.samples),
            "sampled_s": [s.at_s for s in self.samples[:: max(1, len(self.samples) - 1)]],
            "redis_memory_baseline": base_memory,
            "redis_memory_peak": peak,
            "redis_memory_final": final_memory,
            "keys_baseline": base_keys,
            "keys_final": final_keys,
            "keys_left_by_family": dict(left),
            "keys_per_job_first_quarter": round(per_job_first or 0, 2),
            "keys_per_job_last_quarter": round(per_job_last or 0, 2),
            "rss": rss,
            "failures": self.failures,
        }


async def _memory(redis: Any, field: str = "used_memory") -> int:
    return int((await redis.info("memory"))[field])


async def _job_keys(redis: Any) -> int:
    """Every key but the per-minute stats buckets."""
    minutes = [key async for key in redis.scan_iter(match=MINUTES, count=1000)]
    return int(await redis.dbsize()) - len(minutes)


async def _families(redis: Any) -> Counter[str]:
    """Keys by family: each id, number and hash tag folded, so `job:{q}:abc` counts as one."""
    families: Counter[str] = Counter()
    async for key in redis.scan_iter(count=1000):
        text = key.decode(errors="replace")
        families[re.sub(r"[0-9a-f]{8,}|\d+", "*", re.sub(r"\{[^}]*\}", "{q}", text))] += 1
    return families


def _median_keys_per_job(samples: list[Sample]) -> float | None:
    values = [v for s in samples if (v := s.keys_per_job) is not None]
    return statistics.median(values) if values else None


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and _rss_mb(pid) > 0


def main() -> int:
    config = SoakRun()
    directory = config.soak_dir or Path(tempfile.mkdtemp(prefix="soak-"))
    directory.mkdir(parents=True, exist_ok=True)
    print(
        f"soak: {config.soak_seconds:.0f} s at {config.soak_rate:g}/s, logs in {directory}",
        flush=True,
    )
    soak = Soak(config, directory)
    asyncio.run(soak.run())
    samples = [s.__dict__ for s in soak.samples]
    (directory / "soak-figures.json").write_bytes(
        orjson.dumps({"figures": soak.figures, "samples": samples}, option=orjson.OPT_INDENT_2)
    )
    print(orjson.dumps(soak.figures, option=orjson.OPT_INDENT_2).decode())
    print("soak: FAILED" if soak.failures else "soak: ok", flush=True)
    return 1 if soak.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""What a dependency costs: `python -m bench.dependency_cost [--redis URL --tally URL]`.

- **Release latency**: chains of two `bench_noop`s on an idle `python -m jobs` (one process,
  serving `dep-a,dep-b`): the parent (on dep-a, deferred 20 ms so that the child is linked to
  it while it is still live) and the child enqueued `after` it, on the same queue (released
  inside the parent's settle, finish.lua) or on dep-b (released by the settling worker's next
  call, release.lua). Latency = the child's `started_at` (its claim) - the parent's
  `finished_at` (its settle), both the server's clock as the scripts store them, in whole ms
  (a difference is within 1 ms of the truth). A sample whose parent settled before the child
  was linked (its release came from the link, not the settle) is dropped and counted.
- **Fan-in drain**: N parents (`enqueue_many`) and one child `after` all N, drained by one
  worker; next to it the same N without a child (plain), alternating over `--rounds`. jobs/s
  between the first and the last parent start (as `bench.measure`), the queue server's CPU
  (`INFO cpu`) and commands per job for the enqueue (the child's too) and the drain; and the
  time from the last parent's settle to the child's start (server ms).

Without `--redis`, two embedded Valkey servers are started (queue, tally); both are FLUSHDB'd.
Writes results/dependency_cost.json.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench import redis_cost, standalone
from bench.procs import Workers
from bench.stats import summarize
from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout.connection import create_redis
from jobs.reading.job_record import load_job, load_jobs
from settings import Settings

HERE = Path(__file__).resolve().parent
MODULES = "bench.workers.ours_jobs"
JOB = "bench_noop"
PARENT_DEFER_S = 0.02
MODES = {"same_queue": "dep-a", "cross_queue": "dep-b"}
"""Where the child of a dep-a parent goes."""
FAN_IN_QUEUE = "dep-f"


def _ms(at: Any) -> float:
    return float(at.timestamp() * 1000)


class DependencyCost:
    def __init__(self, redis_url: str, tally_url: str, log_dir: Path) -> None:
        self.redis_url, self.tally_url, self.log_dir = redis_url, tally_url, log_dir
        self.settings = Settings(redis_url=redis_url, job_modules=MODULES.split(","))
        self.r = create_redis(self.settings)
        self.tally = aioredis.Redis.from_url(tally_url)

    def worker(self, tag: str, queues: str) -> Workers:
        env = {
            "REDIS_URL": self.redis_url,
            "BENCH_TALLY_URL": self.tally_url,
            "JOB_MODULES": MODULES,
            "WORKER_QUEUES": queues,
            "LOG_LEVEL": "WARNING",
        }
        return Workers([sys.executable, "-m", "jobs"], env, 1, self.log_dir, f"deps-{tag}")

    async def close(self) -> None:
        await self.r.aclose()
        await self.tally.aclose()

    async def _server_ms(self) -> float:
        seconds, micros = await self.r.time()
        return int(seconds) * 1000 + int(micros) / 1000

    async def _final(self, job_id: str, workers: Workers, timeout_s: float = 10) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            record = await load_job(self.r, job_id, {})
            if record is not None and record.status.is_final:
                return record
            if time.monotonic() > deadline or not workers.alive():
                raise RuntimeError(f"{job_id} did not finish")
            await asyncio.sleep(0.002)

    async def release_latency(self, samples: int) -> dict[str, Any]:
        await self.r.flushdb()
        await self.tally.flushdb()
        workers = self.worker("release", ",".join(MODES.values()))
        workers.start()
        out: dict[str, Any] = {"samples": samples}
        try:
            for mode, child_queue in MODES.items():
                latencies: list[float] = []
                linked_late = 0
                i = 0
                while len(latencies) < samples:
                    i += 1
                    payload = {"idx": i, "key": mode, "stamp": False}
                    parent = await enqueue(
                        self.r,
                        JOB,
                        payload,
                        queue="dep-a",
                        defer_by=PARENT_DEFER_S,
                        settings=self.settings,
                    )
                    child = await enqueue(
                        self.r,
                        JOB,
                        payload,
                        queue=child_queue,
                        after=[parent.job_id],
                        settings=self.settings,
                    )
                    linked_ms = await self._server_ms()
                    c = await self._final(child.job_id, workers)
                    p = await load_job(self.r, parent.job_id, {})
                    assert p is not None and p.finished_at and c.started_at, (p, c)
                    if i <= 5:
                        continue  # warm-up
                    if _ms(p.finished_at) < linked_ms - 1:
                        linked_late += 1  # released by the link: not the settle path
                        continue
                    latencies.append(_ms(c.started_at) - _ms(p.finished_at))
                out[mode] = {**summarize(latencies), "dropped_released_at_link": linked_late}
        finally:
            workers.stop()
        return out

    async def fan_in(self, n: int, with_child: bool, key: str) -> dict[str, Any]:
        await self.r.flushdb()
        await self.tally.flushdb()
        payloads = [{"idx": i, "key": key, "stamp": True} for i in range(n)]
        before = await redis_cost.snapshot(self.r)
        await self.r.config_resetstat()
        t0 = time.perf_counter()
        parents = await enqueue_many(
            self.r, JOB, payloads, queue=FAN_IN_QUEUE, settings=self.settings
        )
        parent_ids = [p.job_id for p in parents]
        child_id = None
        if with_child:
            child = await enqueue(
                self.r,
                JOB,
                {"idx": n, "key": key, "stamp": True},
                queue=FAN_IN_QUEUE,
                after=parent_ids,
                settings=self.settings,
            )
            child_id = child.job_id
        enqueue_s = time.perf_counter() - t0
        enqueue_calls = sum((await redis_cost.commandstats(self.r)).values())
        enqueued = await redis_cost.snapshot(self.r)
        await self.r.config_resetstat()
        total = n + (1 if with_child else 0)
        workers = self.worker(key, FAN_IN_QUEUE)
        workers.start()
        try:
            deadline = time.monotonic() + 300
            while int(await self.tally.hlen(f"{key}:seen")) < total:
                if time.monotonic() > deadline or not workers.alive():
                    raise RuntimeError(f"{key}: drain did not finish")
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the last settle, and any duplicate
            by_command = await redis_cost.commandstats(self.r)
            done = await redis_cost.snapshot(self.r)
        finally:
            workers.stop()
        starts = sorted(
            float(v) for k, v in (await self.tally.hgetall(f"{key}:start")).items() if int(k) < n
        )
        seen = [int(v) for v in (await self.tally.hgetall(f"{key}:seen")).values()]
        result: dict[str, Any] = {
            "with_child": with_child,
            "jobs_per_s": (len(starts) - 1) / (starts[-1] - starts[0]),
            "enqueue_s": enqueue_s,
            "redis_cpu_drain_us_per_job": redis_cost.cpu_us_per_job(enqueued, done, n),
            "redis_cpu_enqueue_us_per_job": redis_cost.cpu_us_per_job(before, enqueued, n),
            "commands_per_job_drain": sum(by_command.values()) / n,
            "commands_per_job_enqueue": enqueue_calls / n,
            "exactly_once": len(seen) == total and all(c == 1 for c in seen),
        }
        if child_id is not None:
            records = await load_jobs(self.r, [*parent_ids, child_id], {})
            assert all(r is not None and r.finished_at for r in records)
            last_parent = max(_ms(r.finished_at) for r in records[:-1] if r and r.finished_at)
            child_record = records[-1]
            assert child_record is not None and child_record.started_at
            result["last_parent_to_child_start_ms"] = _ms(child_record.started_at) - last_parent
            result["child_status"] = str(child_record.status)
        return result


async def run(
    redis_url: str, tally_url: str, n: int, rounds: int, samples: int, log_dir: Path
) -> dict[str, Any]:
    bench = DependencyCost(redis_url, tally_url, log_dir)
    try:
        await redis_cost.prepare(bench.r)
        out: dict[str, Any] = {"release": await bench.release_latency(samples)}
        drains: dict[str, list[dict[str, Any]]] = {"plain": [], "fan_in": []}
        for r in range(rounds):
            order = ("plain", "fan_in") if r % 2 == 0 else ("fan_in", "plain")
            for kind in order:
                drains[kind].append(await bench.fan_in(n, kind == "fan_in", f"{kind}-{r}"))

        def median(kind: str, figure: str) -> float:
            return statistics.median(d[figure] for d in drains[kind])

        figures = (
            "jobs_per_s",
            "enqueue_s",
            "redis_cpu_drain_us_per_job",
            "redis_cpu_enqueue_us_per_job",
            "commands_per_job_drain",
            "commands_per_job_enqueue",
        )
        out["n"], out["rounds"] = n, rounds
        out["median"] = {kind: {f: median(kind, f) for f in figures} for kind in drains}
        out["median"]["fan_in"]["last_parent_to_child_start_ms"] = median(
            "fan_in", "last_parent_to_child_start_ms"
        )
        out["drains"] = drains
        out["exactly_once"] = all(d["exactly_once"] for ds in drains.values() for d in ds)
        return out
    finally:
        await bench.close()


def main() -> None:
    standalone.main(
        "dependency_cost",
        run,
        n=10_000,
        n_help="parents of the fan-in",
        samples=500,
        samples_help="chains per release mode",
    )


if __name__ == "__main__":
    main()

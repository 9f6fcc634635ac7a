"""What encryption at rest (`ENCRYPTION_KEYS`) costs per job, on and off in the same run.

`python -m bench.encryption_cost [--redis URL --tally URL] [--n 10000] [--rounds 3]`

- codec: µs to seal and to open one value (`jobs.layout.encryption.Keyring`), for inputs of
  about 100 B, 1 KiB and 10 KiB of JSON; and the codecs a job goes through (its definition
  written and read, its final record written), with and without a keyring.
- drain: one worker process drains `n` jobs (`bench_pass`, `{"idx": i}`) at
  `LOG_LEVEL=WARNING`, with and without `ENCRYPTION_KEYS` (this process seals the enqueues
  too), the variants alternating from round to round: worker CPU µs per job and throughput.

Writes results/encryption_cost.json. Not part of `make bench`: run it on its own.
"""

from __future__ import annotations

import statistics
import timeit
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench import standalone
from bench.pure_noop import drain
from jobs.layout import encryption
from jobs.layout.encryption import Keyring
from jobs.layout.records import JobDefinition, result_data

KEY = Fernet.generate_key().decode()


def _best_us(fn: Any, number: int = 2000) -> float:
    """The best of 5 timings, per call, in µs (the least disturbed by the other processes)."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def _job_codecs() -> float:
    """µs for what a job's data goes through: definition written, read, final record written."""
    payload = {"to": "someone@example.com", "subject": "Your order 12345", "body": "x" * 60}
    stored = JobDefinition("send_email", [payload], {}, queue="q").dump_open() + b',"et":1}'

    def once() -> None:
        JobDefinition("send_email", [payload], {}, queue="q").dump_open()
        JobDefinition.load(stored)
        result_data(
            name="send_email",
            args=[payload],
            kwargs={},
            tries=1,
            enqueued_ms=1,
            status="complete",
            result={"message_id": "abc"},
            started_ms=2,
        )

    return _best_us(once)


def codec() -> dict[str, Any]:
    ring = Keyring.parse(KEY)
    out: dict[str, Any] = {}
    for size in (100, 1024, 10240):
        data = b'{"text": "' + b"a" * (size - 12) + b'"}'
        token = ring.seal(data)
        out[f"seal_us_{size}B"] = round(_best_us(lambda d=data: ring.seal(d)), 2)
        out[f"open_us_{size}B"] = round(_best_us(lambda t=token: ring.open(t)), 2)
        out[f"stored_bytes_{size}B"] = len(token)
    encryption.install(None)
    off = _job_codecs()
    encryption.install(ring)
    on = _job_codecs()
    encryption.install(None)
    out["job_codecs_us_off"] = round(off, 2)
    out["job_codecs_us_on"] = round(on, 2)
    return out


async def run(
    redis_url: str, tally_url: str, n: int, rounds: int, samples: int, log_dir: Path
) -> dict[str, Any]:
    del tally_url, samples  # the queue's own records are the check (`bench.pure_noop`)
    variants = {"off": None, "on": KEY}
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    order = list(variants)
    for r in range(rounds):
        for variant in order if r % 2 == 0 else order[::-1]:
            key = variants[variant]
            encryption.install(None if key is None else Keyring.parse(key))
            env = {"ENCRYPTION_KEYS": key or ""}
            runs[variant].append(await drain(redis_url, n, "WARNING", log_dir, 300.0, env=env))
    encryption.install(None)
    drains = {}
    for variant, results in runs.items():
        assert all(x["exactly_once"] for x in results), (variant, results)
        drains[variant] = {
            "jobs_per_s": round(statistics.median(x["jobs_per_s"] for x in results)),
            "worker_cpu_us_per_job": round(
                statistics.median(x["worker_cpu_us_per_job"] for x in results), 1
            ),
            "cpu_runs": [round(x["worker_cpu_us_per_job"], 1) for x in results],
        }
    return {"codec": codec(), "drain": drains}


if __name__ == "__main__":
    standalone.main(
        "encryption_cost",
        run,
        n=10_000,
        n_help="jobs per drain",
        samples=0,
        samples_help="unused",
    )

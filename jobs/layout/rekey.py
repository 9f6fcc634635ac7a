"""Re-seal with the first key what older keys of ENCRYPTION_KEYS sealed, so that an old key can
be dropped before the records it sealed expire (a job deferred for months, a failed job kept
for a week).

    ENCRYPTION_KEYS=new,old python -m jobs.layout.rekey

Safe while workers run: each value is replaced only if it is still the one read (`rekey.lua`),
so a settle or a step written meanwhile wins (and is sealed with the first key already). Reads
job definitions, final records (ours and ARQ's `arq:result:` copies), job states and runtime
schedules; a value no key here opens is counted and left as it is. Run it again until it
reports nothing `resealed` and nothing `unreadable`, then drop the old key.
"""

import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from jobs.layout import encryption, keys, scripts
from jobs.layout.connection import RedisClient, create_redis
from jobs.layout.encryption import EncryptionError, Keyring
from jobs.settings import get_settings

PATTERNS = (
    f"{keys.PREFIX_OPEN}*{keys.PREFIX_CLOSE}{keys.SUFFIXES['job']}*",
    f"{keys.PREFIX_OPEN}*{keys.PREFIX_CLOSE}{keys.SUFFIXES['result']}*",
    f"{keys.PREFIX_OPEN}*{keys.PREFIX_CLOSE}{keys.SUFFIXES['state']}*",
    f"{keys.LEGACY_JOB}*",
    f"{keys.LEGACY_RESULT}*",
    keys.SCHEDULES,
)


@dataclass(slots=True)
class Rekeyed:
    resealed: int = 0
    """Values now sealed with the first key."""
    current: int = 0
    """Sealed with the first key already."""
    unreadable: int = 0
    """Sealed with a key not in ENCRYPTION_KEYS: left as they are."""
    changed: int = 0
    """Rewritten by the service between the read and the re-seal (sealed anew by it)."""


async def rekey(redis: RedisClient, ring: Keyring) -> Rekeyed:
    count = Rekeyed()
    for pattern in PATTERNS:
        async for key in redis.scan_iter(match=pattern, count=1000):
            kind = await redis.type(key)
            if kind == b"string":
                raw = await redis.get(key)
                if raw is not None:
                    await _string(redis, ring, key, raw, count)
            elif kind == b"hash":
                fields: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc]
                for field, value in fields.items():
                    if encryption.is_sealed(value):
                        await _replace(redis, ring, key, field, value, value, count)
    return count


async def _string(
    redis: RedisClient, ring: Keyring, key: bytes, raw: bytes, count: Rekeyed
) -> None:
    """A definition or a final record: JSON whose `e` is sealed."""
    if raw[:1] != b"{":
        return
    try:
        record: dict[str, Any] = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    sealed = record.get("e")
    if not encryption.is_sealed(sealed):
        return
    await _replace(redis, ring, key, b"", raw, sealed, count, record)


async def _replace(
    redis: RedisClient,
    ring: Keyring,
    key: bytes,
    field: bytes,
    raw: bytes,
    sealed: Any,
    count: Rekeyed,
    record: dict[str, Any] | None = None,
) -> None:
    try:
        fresh = ring.reseal(sealed)
    except EncryptionError:
        count.unreadable += 1
        return
    if fresh is None:
        count.current += 1
        return
    value = fresh.encode() if record is None else orjson.dumps({**record, "e": fresh})
    done = await scripts.script("rekey")(redis, [key.decode()], [field, raw, value])
    if done == 1:
        count.resealed += 1
    else:
        count.changed += 1


async def _main() -> Rekeyed:
    settings = get_settings()  # the command's own environment: ENCRYPTION_KEYS, REDIS_URL
    ring = settings.keyring()
    if ring is None:
        raise SystemExit("ENCRYPTION_KEYS is not set: there is no key to re-seal with")
    redis = create_redis(settings)
    try:
        return await rekey(redis, ring)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    print(json.dumps(asdict(asyncio.run(_main()))))

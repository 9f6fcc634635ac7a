"""The Lua scripts that make each state change one atomic round trip."""

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    sha: str

    async def __call__(self, redis: Redis, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA; on a server that has not seen the script yet (or restarted), EVAL once."""
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]


@cache
def script(name: str) -> Script:
    source = files(__package__).joinpath(f"{name}.lua").read_text()
    return Script(source, hashlib.sha1(source.encode()).hexdigest())

"""The Lua scripts that make each state change one atomic round trip."""

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from jobs import keys


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


# Key prefixes are spelled into the scripts (`'@JOB@' .. id`) rather than passed on every call:
# fewer arguments to encode per job, and one place (`jobs.keys`) that names them.
PLACEHOLDERS = {
    "@JOB@": keys.JOB,
    "@RESULT@": keys.RESULT,
    "@IN_PROGRESS@": keys.IN_PROGRESS,
    "@STATE@": keys.STATE,
    "@ABORT@": keys.ABORT,
    "@EVENTS@": keys.EVENTS,
}


@cache
def script(name: str) -> Script:
    source = files(__package__).joinpath(f"{name}.lua").read_text()
    for placeholder, value in PLACEHOLDERS.items():
        source = source.replace(placeholder, value)
    return Script(source, hashlib.sha1(source.encode()).hexdigest())

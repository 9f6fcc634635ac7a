"""The Lua scripts that make each state change one atomic round trip.

Each script works on one queue: its KEYS are that queue's keys (one hash tag, one Redis
Cluster slot) and ARGV[1] is the queue's key prefix, from which it builds per-job keys.
"""

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from arq.constants import expires_extra_ms
from redis.exceptions import NoScriptError

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.script_rows import ENQUEUE_ROW_WIDTH


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    sha: str

    async def __call__(self, redis: RedisClient, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA; on a server that has not seen the script yet (or restarted), EVAL once."""
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]


# The event channel is spelled into the scripts (`'@EVENTS@'`) rather than passed on every
# call: one place (`jobs.layout.keys`) names it. So is how long a definition is kept beyond its due
# time (ARQ's `expires_extra_ms`), and the width of an enqueue row.
PLACEHOLDERS = {
    "@EVENTS@": keys.EVENTS,
    "@DEFINITION_TTL_MS@": str(expires_extra_ms),
    "@ENQUEUE_ROW_WIDTH@": str(ENQUEUE_ROW_WIDTH),
}


INCLUDE = re.compile(r"^--@include (\w+)$", re.MULTILINE)
"""A line `--@include flow` stands for `flow.lua`'s text: functions several scripts share."""


def _source(name: str) -> str:
    return files(__package__).joinpath("lua", f"{name}.lua").read_text()


@cache
def script(name: str) -> Script:
    source = INCLUDE.sub(lambda m: _source(m.group(1)), _source(name))
    for placeholder, value in PLACEHOLDERS.items():
        source = source.replace(placeholder, value)
    return Script(source, hashlib.sha1(source.encode()).hexdigest())

"""The Lua scripts that make each state change one atomic round trip.

Each script works on one queue: its KEYS are that queue's keys (one hash tag, one Redis
Cluster slot) and ARGV[1] is the queue's key prefix, from which it builds per-job keys with
the suffixes `jobs.layout.keys` defines: a script writes `P .. KEY.job .. id`, and the loader
spells `KEY.job` in as `'job:'` (see `keys.SCRIPT_NAMES`), so the layout is written once and
the server runs the same text it would with the literal.
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


# How long a definition is kept beyond its due time (ARQ's `expires_extra_ms`) is spelled into
# the scripts rather than passed on every call.
PLACEHOLDERS = {"@DEFINITION_TTL_MS@": str(expires_extra_ms)}

NAME = re.compile(r"\bKEY\.(\w+)")
"""`KEY.job`: the name of a key suffix or global key in `keys.SCRIPT_NAMES`, quoted in."""


class UnknownKeyName(ValueError):
    """A script names a key `jobs.layout.keys` does not define."""


def _quoted(name: str, value: str) -> str:
    if "'" in value or "\\" in value:
        raise UnknownKeyName(f"KEY.{name} = {value!r} cannot be spelled as a Lua literal")
    return f"'{value}'"


_LITERALS = {name: _quoted(name, value) for name, value in keys.SCRIPT_NAMES.items()}


def _spell_names(script: str, source: str) -> str:
    def literal(m: re.Match[str]) -> str:
        try:
            return _LITERALS[m.group(1)]
        except KeyError:
            raise UnknownKeyName(
                f"{script}.lua: KEY.{m.group(1)} is not in keys.SCRIPT_NAMES"
            ) from None

    return NAME.sub(literal, source)


INCLUDE = re.compile(r"^--@include (\w+)$", re.MULTILINE)
"""A line `--@include flow` stands for `flow.lua`'s text: functions several scripts share."""


def _source(name: str) -> str:
    return files(__package__).joinpath("lua", f"{name}.lua").read_text()


@cache
def script(name: str) -> Script:
    source = INCLUDE.sub(lambda m: _source(m.group(1)), _source(name))
    source = _spell_names(name, source)
    for placeholder, value in PLACEHOLDERS.items():
        source = source.replace(placeholder, value)
    return Script(source, hashlib.sha1(source.encode()).hexdigest())

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
from jobs.layout.script_rows import ENQUEUE_ROW_WIDTH


class WrongKeyCount(ValueError):
    """A caller passed a script another number of KEYS than its header declares."""


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str
    key_count: int
    """How many KEYS it takes: its header's `KEYS[1]` ... `KEYS[n]` (`declared_keys`). A call
    with another number fails before it is sent: a key left out would shift the others."""

    async def __call__(self, redis: RedisClient, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA; on a server that has not seen the script yet (or restarted), EVAL once."""
        if len(keys) != self.key_count:
            raise WrongKeyCount(f"{self.name}.lua takes {self.key_count} KEYS, not {len(keys)}")
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]


# How long a definition is kept beyond its due time (ARQ's `expires_extra_ms`) and the width of
# an enqueue row (`script_rows.EnqueueRow`) are spelled into the scripts, not passed per call.
PLACEHOLDERS = {
    "@DEFINITION_TTL_MS@": str(expires_extra_ms),
    "@ENQUEUE_ROW_WIDTH@": str(ENQUEUE_ROW_WIDTH),
    "@LANE_EPOCH_MS@": str(keys.LANE_EPOCH_MS),
}

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
"""A line `--@include flow` stands for `lua/includes/flow.lua`'s text: functions several scripts
share. An include only defines a constructor (`flow_gates(P, now, ...)`): what its functions
work on is passed in by the script, which calls it once per call, never read from the
script's own variables."""


def _source(*path: str) -> str:
    return files(__package__).joinpath("lua", *path).read_text()


KEYS_LINE = re.compile(r"^-- KEYS\b.*(?:\n--   .*)*", re.MULTILINE)
"""The header's KEYS entry: its line and the indented lines that continue it."""


def declared_keys(name: str, source: str) -> int:
    """How many KEYS a script's header declares: its KEYS entry names `KEYS[1]` to `KEYS[n]`,
    each once and in order (`-- KEYS[1] due zset  KEYS[2] ...`, lines that continue it
    indented); a header without one, or with a gap, fails the load."""
    entry = KEYS_LINE.search(_header(source))
    if entry is None:
        raise WrongKeyCount(f"{name}.lua: its header has no KEYS entry")
    numbers = [int(n) for n in re.findall(r"KEYS\[(\d+)\]", entry.group())]
    if numbers != list(range(1, len(numbers) + 1)):
        raise WrongKeyCount(f"{name}.lua: its header's KEYS are {numbers}, not 1 to n in order")
    return len(numbers)


def _header(source: str) -> str:
    """The comment lines a script opens with: its contract."""
    lines = source.splitlines()
    end = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
    return "\n".join(lines[:end])


@cache
def script(name: str) -> Script:
    own = _source(f"{name}.lua")
    key_count = declared_keys(name, own)
    source = INCLUDE.sub(lambda m: _source("includes", f"{m.group(1)}.lua"), own)
    source = _spell_names(name, source)
    for placeholder, value in PLACEHOLDERS.items():
        source = source.replace(placeholder, value)
    return Script(name, source, hashlib.sha1(source.encode()).hexdigest(), key_count)

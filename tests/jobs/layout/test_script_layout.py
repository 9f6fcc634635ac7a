"""The Lua scripts spell the Redis layout only through `jobs.layout.keys`, and their callers
pass the KEYS their headers declare. Pure: no Redis.

How the KEYS counts are proven: every call through `scripts.Script.__call__` compares its
number of keys with the count the script's header declares and raises `WrongKeyCount` before
sending (tested below), and the Redis suites (tests/jobs, tests/service, tests/cluster, e2e)
go through every such call site. The calls that bypass `__call__` (pipelined EVALSHA or EVAL)
are checked here where their key lists can be imported: the worker's claim
(`Claimer.claim_call`) and the group-committed enqueue (`_Lane.script_keys`, the same list
`submit._stream_chunks` builds inline). Two are not: the workflow transaction's enqueue
calls (built from planned jobs) and its link calls, which pass no key on purpose (link.lua's
header says so).
"""

import re
from importlib.resources import files
from typing import Any, cast

import pytest

from jobs.enqueue.group_commit import _Lane
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient
from jobs.worker.claim import Claimer
from jobs.worker.queue_order import ServedQueues
from settings import Settings

LUA = files("jobs.layout").joinpath("lua")
SCRIPTS = sorted(p.name.removesuffix(".lua") for p in LUA.iterdir() if p.name.endswith(".lua"))
INCLUDES = sorted(p.name for p in LUA.joinpath("includes").iterdir() if p.name.endswith(".lua"))
SOURCES = {
    **{f"{name}.lua": LUA.joinpath(f"{name}.lua").read_text() for name in SCRIPTS},
    **{f"includes/{name}": LUA.joinpath("includes", name).read_text() for name in INCLUDES},
}


def test_there_are_scripts_and_includes_to_check() -> None:
    assert {"claim", "enqueue", "finish", "abort", "release"} <= set(SCRIPTS)
    assert INCLUDES == ["deps.lua", "fair.lua", "flow.lua"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_loaded_script_has_no_token_or_placeholder_left(name: str) -> None:
    source = scripts.script(name).source
    assert not re.search(r"\bKEY\b", source)
    assert not re.search(r"@[A-Z_]+@", source)
    assert not scripts.INCLUDE.search(source)


@pytest.mark.parametrize("path", sorted(SOURCES))
def test_no_lua_file_spells_a_key_itself(path: str) -> None:
    source = SOURCES[path]
    assert not re.findall(r"\bP\s*\.\.\s*['\"][^'\"]*['\"]", source), "a prefix + a literal"
    assert not re.findall(r"['\"](?:arq|jobsvc):", source), "a global key's literal"
    with_colon = {v for v in keys.SCRIPT_NAMES.values() if ":" in v}
    literals = set(re.findall(r"'([^'\n]*)'|\"([^\"\n]*)\"", source))
    assert not {a or b for a, b in literals} & with_colon, "a key suffix's literal"


@pytest.mark.parametrize("path", sorted(SOURCES))
def test_every_key_name_a_lua_file_uses_is_defined_in_keys(path: str) -> None:
    used = set(re.findall(r"\bKEY\.(\w+)", SOURCES[path]))
    assert used <= set(keys.SCRIPT_NAMES), used - set(keys.SCRIPT_NAMES)


def test_the_loader_spells_a_name_as_its_quoted_value_and_refuses_an_unknown_one() -> None:
    assert scripts._spell_names("t", "P .. KEY.job .. id") == "P .. 'job:' .. id"
    assert scripts._spell_names("t", "KEY.EVENTS") == f"'{keys.EVENTS}'"
    with pytest.raises(scripts.UnknownKeyName, match=r"KEY\.jbo"):
        scripts._spell_names("t", "P .. KEY.jbo .. id")


def test_the_scripts_key_suffixes_are_those_queue_keys_builds() -> None:
    q = keys.queue("q")
    assert q.prefix == keys.PREFIX_OPEN + "q" + keys.PREFIX_CLOSE
    assert q.job("x") == q.prefix + keys.SUFFIXES["job"] + "x"
    assert q.rate_tat("r:g") == q.prefix + keys.SUFFIXES["rate_tat"] + "r:g"
    assert q.priorities == q.prefix + keys.SUFFIXES["priorities"]


@pytest.mark.parametrize("path", [f"includes/{name}" for name in INCLUDES])
def test_an_include_only_defines_a_constructor_taking_what_it_works_on(path: str) -> None:
    code = [line for line in SOURCES[path].splitlines() if line and not line.startswith("--")]
    top_level = [line for line in code if not line.startswith((" ", "end"))]
    assert len(top_level) == 1 and re.match(r"local function \w+\(P(, now, |\))", top_level[0])
    # the names the including script used to have to define before the include
    assert not re.search(r"\b(NOW|NOW_US|RESERVE|DUE|DEFINITION_TTL)\b", "\n".join(code))


EXPECTED_KEYS = {
    "abort": 4,
    "claim": 4,
    "enqueue": 5,
    "finish": 3,
    "link": 1,
    "migrate": 3,
    "progress": 2,
    "reclaim": 1,
    "rekey": 1,
    "release": 1,
    "renew": 1,
    "signal": 2,
}


def test_each_script_declares_its_key_count_in_its_header() -> None:
    assert {name: scripts.script(name).key_count for name in SCRIPTS} == EXPECTED_KEYS


def test_a_header_whose_keys_skip_a_number_fails_the_load() -> None:
    with pytest.raises(scripts.WrongKeyCount):
        scripts.declared_keys("t", "-- Does x.\n-- KEYS[1] a  KEYS[3] c\n-- ARGV[1] p\nreturn 1")
    with pytest.raises(scripts.WrongKeyCount):
        scripts.declared_keys("t", "-- Does x.\n-- ARGV[1] p\nreturn 1")
    two = "-- Does x.\n-- KEYS[1] a\n--   KEYS[2] b (continued)\n-- ARGV[1] p  KEYS[9]\nreturn 1"
    assert scripts.declared_keys("t", two) == 2


async def test_a_call_with_another_number_of_keys_is_refused_before_it_is_sent() -> None:
    not_a_client = cast(RedisClient, object())  # never used: the call fails first
    with pytest.raises(scripts.WrongKeyCount, match=r"claim\.lua takes 4 KEYS, not 3"):
        await scripts.script("claim")(not_a_client, ["a", "b", "c"], [])


def test_the_pipelined_calls_pass_the_declared_keys() -> None:
    q = keys.queue("q")
    claimer = Claimer(cast(Any, None), "w", ServedQueues.parse("q", "q"), 1000, False)
    claim_keys, _ = claimer.claim_call(q, 10, "w:1")
    assert len(claim_keys) == scripts.script("claim").key_count
    lane = _Lane(q, Settings())
    assert len(lane.script_keys()) == scripts.script("enqueue").key_count

"""The encryption codec (`jobs.layout.encryption`) and the records it seals."""

import base64
from collections.abc import Iterator

import orjson
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from jobs.cron import stored
from jobs.cron.stored import ScheduleDefinition
from jobs.layout import encryption, keys, scripts
from jobs.layout.connection import RedisClient
from jobs.layout.encryption import Keyring, Undecryptable, UnknownEncryptionKey
from jobs.layout.records import JobDefinition, JobState, Poison, open_result, result_data
from jobs.layout.rekey import rekey
from jobs.settings import Settings

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()
MARKER = "pii-marker-0c6f"


@pytest.fixture
def keys_a() -> Iterator[Keyring]:
    ring = Keyring.parse(KEY_A)
    encryption.install(ring)
    try:
        yield ring
    finally:
        encryption.install(None)


def _with(text: str | None) -> None:
    encryption.install(None if text is None else Keyring.parse(text))


def test_a_sealed_value_names_its_key_and_opens_with_any_key_of_the_ring() -> None:
    old = Keyring.parse(KEY_A)
    token = old.seal(MARKER.encode())
    assert token.startswith(f"$e1:{old.primary}:") and MARKER not in token
    rotated = Keyring.parse(f"{KEY_B},{KEY_A}")
    assert rotated.primary != old.primary
    assert rotated.open(token) == MARKER.encode()
    assert rotated.seal(b"x").startswith(f"$e1:{rotated.primary}:")


def test_a_value_sealed_with_a_key_not_held_names_that_key_id() -> None:
    token = Keyring.parse(KEY_A).seal(b"secret")
    with pytest.raises(UnknownEncryptionKey) as caught:
        Keyring.parse(KEY_B).open(token)
    assert caught.value.key_id == Keyring.parse(KEY_A).primary
    assert caught.value.key_id in str(caught.value)


def test_an_altered_value_fails_authentication() -> None:
    ring = Keyring.parse(KEY_A)
    token = ring.seal(b"secret")
    head, body = token.rsplit(":", 1)
    data = bytearray(base64.b64decode(body))
    data[15] ^= 1  # one bit of the ciphertext
    with pytest.raises(Undecryptable):
        ring.open(f"{head}:{base64.b64encode(bytes(data)).decode()}")


def test_same_plaintext_seals_differently_each_time() -> None:
    ring = Keyring.parse(KEY_A)
    assert ring.seal(b"same") != ring.seal(b"same")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not-a-key", "item 1 of 1 is not a urlsafe base64 32-byte key"),
        (f"{KEY_A},short", "item 2 of 2 is not a urlsafe base64 32-byte key"),
        (" , ", "names no key"),
        (f"{KEY_A},{KEY_A}", "the same key twice"),
    ],
)
def test_a_malformed_setting_stops_the_start_naming_the_setting(value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(encryption_keys=value)
    message = str(caught.value)
    assert "ENCRYPTION_KEYS" in message and problem in message
    assert KEY_A not in message  # a key never reaches a log line


def test_unset_or_empty_means_encryption_off() -> None:
    assert Settings().keyring() is None
    assert Settings(encryption_keys="").keyring() is None


def test_the_keyring_never_shows_its_keys() -> None:
    ring = Keyring.parse(KEY_A)
    assert KEY_A not in repr(ring) and "hash_key" not in repr(ring)


def test_hashes_follow_the_oldest_key_so_prepending_a_key_keeps_them() -> None:
    a, rotated, b = Keyring.parse(KEY_A), Keyring.parse(f"{KEY_B},{KEY_A}"), Keyring.parse(KEY_B)
    assert a.hash("acme") == rotated.hash("acme") != b.hash("acme")
    assert MARKER not in a.hash(MARKER)


def _definition() -> JobDefinition:
    return JobDefinition("echo", [{"text": MARKER}], {}, queue="q-0")


def _stored(definition: JobDefinition) -> bytes:
    return definition.dump_open() + b',"et":1}'


def test_a_definition_is_sealed_and_reads_back(keys_a: Keyring) -> None:
    raw = _stored(_definition())
    assert MARKER.encode() not in raw
    stored = orjson.loads(raw)
    assert stored["f"] == "echo" and "a" not in stored and stored["e"].startswith("$e1:")
    loaded = JobDefinition.load(raw)
    assert isinstance(loaded, JobDefinition) and loaded.payload == {"text": MARKER}


def test_a_definition_written_in_clear_reads_with_encryption_on() -> None:
    raw = _stored(_definition())
    assert MARKER.encode() in raw
    _with(KEY_A)
    try:
        loaded = JobDefinition.load(raw)
    finally:
        _with(None)
    assert isinstance(loaded, JobDefinition) and loaded.payload == {"text": MARKER}


def test_a_sealed_definition_without_its_key_is_a_poison_naming_the_key(keys_a: Keyring) -> None:
    raw = _stored(_definition())
    for elsewhere in (None, KEY_B):
        _with(elsewhere)
        loaded = JobDefinition.load(raw)
        assert isinstance(loaded, Poison) and loaded.type == "UnknownEncryptionKey"
        assert keys_a.primary in loaded.message
        assert ("not set" in loaded.message) is (elsewhere is None)


def _result() -> bytes:
    return result_data(
        name="echo",
        args=[{"text": MARKER}],
        kwargs={},
        tries=1,
        enqueued_ms=1,
        status="failed",
        result={"type": "JobFailed", "message": MARKER, "retryable": False},
        started_ms=2,
    )


def test_a_final_record_seals_input_and_outcome_but_not_its_status(keys_a: Keyring) -> None:
    raw = _result() + b',"ft":3}'
    assert MARKER.encode() not in raw
    stored = orjson.loads(raw)
    assert stored["s"] is False and stored["status"] == "failed"  # link.lua reads these
    opened = open_result(stored)
    assert opened["a"] == [{"text": MARKER}] and opened["r"]["message"] == MARKER


def test_a_sealed_state_field_without_its_key_reads_as_an_error_naming_the_key(
    keys_a: Keyring,
) -> None:
    sealed = encryption.seal_bytes(b'{"type":"ValueError","message":"x","retryable":true}')
    state = JobState.parse({b"error": sealed, b"tries": b"1"})
    assert state.error is not None and orjson.loads(state.error)["type"] == "ValueError"
    _with(KEY_B)
    state = JobState.parse({b"error": sealed})
    assert state.error is not None
    error = orjson.loads(state.error)
    assert error["type"] == "UnknownEncryptionKey" and keys_a.primary in error["message"]


def test_flow_keys_and_fingerprints_are_keyed_hashes(keys_a: Keyring) -> None:
    from jobs.enqueue.submit import input_fingerprint
    from jobs.flow.limits import declare
    from jobs.layout.keys import queue
    from tests.support.jobs.secret_jobs import Secret

    flow = declare(
        "secret_echo",
        Secret,
        concurrency=1,
        concurrency_key="tenant",
        rate_limit="10/s",
        rate_key="tenant",
        rate_burst=1,
        unique_for=10,
        unique_key=None,
        debounce=None,
        expires=None,
    )
    payload = {"text": MARKER, "tenant": MARKER}
    spec = flow.gates("secret_echo", payload)
    texts = [spec["c"], spec["r"], flow.unique_lock("secret_echo", payload)]
    texts += [input_fingerprint(payload), queue("q-0").idempotency("echo", MARKER)]
    assert all(MARKER not in text for text in texts), texts
    assert spec["c"] == f"c:secret_echo:#{keys_a.hash(MARKER)}"


async def test_a_runtime_schedule_is_stored_sealed(keys_a: Keyring, redis: RedisClient) -> None:
    definition = ScheduleDefinition(job="secret_echo", input={"text": MARKER}, every=60)
    await stored.put(redis, "nightly", definition)
    raw = await redis.hget(keys.SCHEDULES, "nightly")  # type: ignore[misc]
    assert raw is not None and raw.startswith(b"$e1:") and MARKER.encode() not in raw
    loaded = await stored.load(redis, "nightly")
    assert loaded is not None and loaded.input == {"text": MARKER}
    _with(KEY_B)  # a worker without the key leaves it out (and logs why), never crashes
    assert await stored.load(redis, "nightly") is None


async def test_rekey_reseals_old_values_with_the_first_key_and_keeps_ttls(
    keys_a: Keyring, redis: RedisClient
) -> None:
    q = keys.queue("q-0")
    definition = _stored(_definition())
    await redis.set(q.job("j1"), definition, ex=600)
    await redis.set(q.result("j2"), _result() + b',"ft":3}', ex=600)
    await redis.hset(q.state("j1"), mapping={"error": encryption.seal_bytes(b"{}"), "tries": 1})  # type: ignore[misc]
    await redis.set(q.job("plain"), b'{"f":"echo","a":[1],"k":{}}')
    _with(f"{KEY_B},{KEY_A}")
    rotated = Keyring.parse(f"{KEY_B},{KEY_A}")
    counted = await rekey(redis, rotated)
    assert (counted.resealed, counted.current, counted.unreadable) == (3, 0, 0)
    assert 590 < await redis.ttl(q.job("j1")) <= 600  # KEEPTTL
    assert (await rekey(redis, rotated)).resealed == 0  # nothing left under A
    _with(KEY_B)  # A dropped: everything still reads
    loaded = JobDefinition.load(await redis.get(q.job("j1")) or b"")
    assert isinstance(loaded, JobDefinition) and loaded.payload == {"text": MARKER}
    result = open_result(orjson.loads(await redis.get(q.result("j2")) or b""))
    assert result["r"]["message"] == MARKER
    assert JobState.parse(await redis.hgetall(q.state("j1"))).error == b"{}"  # type: ignore[misc]
    assert await redis.get(q.job("plain")) == b'{"f":"echo","a":[1],"k":{}}'  # in clear: as it was


async def test_rekey_leaves_a_value_changed_since_it_was_read(
    keys_a: Keyring, redis: RedisClient
) -> None:
    key = keys.queue("q-0").job("j1")
    await redis.set(key, b"now")
    replaced = await scripts.script("rekey")(redis, [key], ["", b"before", b"after"])
    assert replaced == 0 and await redis.get(key) == b"now"

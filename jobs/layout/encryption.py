"""Encryption at rest: `ENCRYPTION_KEYS` seals inputs, results, errors, step results and signal
bodies before they reach Redis, and hashes the user values that would otherwise name keys.

    ENCRYPTION_KEYS=<new key>,<old key>    # each as `Fernet.generate_key()` makes one

AES-256-GCM (`cryptography`), not Fernet: a sealed value names the id of its key
(`$e1:{key id}:{base64(nonce | ciphertext | tag)}`), so a reader without that key says which
one it lacks instead of trying every key and failing blind (`MultiFernet` would); it adds 28
bytes where Fernet adds 57 and a timestamp, and skips the separate HMAC pass. The first key
seals, every key opens: rotation is prepending a new key, and dropping an old one once nothing
sealed with it is left (see the README).

A sealed value is text that no JSON value starts with (`$`), so a reader tells it from the
plain JSON written before encryption was turned on (mixed mode: both read).

Hashes (`Keyring.hash`: flow-control gate values, unique locks, idempotency keys and input
fingerprints) use a key derived from the LAST key of the list, the oldest still trusted:
prepending a new key leaves every gate, lock and idempotency record where it was; they move
once the oldest key is dropped, which happens only after its records have expired.

The process's keyring is installed at start (`install`, from `Settings`); code that writes or
reads a record asks `active()`.
"""

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "$e1:"
"""Version 1 of the sealed format: AES-256-GCM, 96-bit random nonce, 128-bit tag."""
_PREFIX_BYTES = PREFIX.encode()
_NONCE = 12
SETTING = "ENCRYPTION_KEYS"


class EncryptionError(Exception):
    """A sealed value cannot be opened: `key_id` names the key it needs."""

    def __init__(self, message: str, key_id: str = "") -> None:
        super().__init__(message)
        self.key_id = key_id
        self.message = message

    @property
    def kind(self) -> str:
        return type(self).__name__


class UnknownEncryptionKey(EncryptionError):
    """Sealed with a key that ENCRYPTION_KEYS does not hold (or encryption is off here)."""


class Undecryptable(EncryptionError):
    """The key is known but the value fails authentication: corrupt, or altered."""


def key_id(key: bytes) -> str:
    """A key's public name: 8 hex digits of a hash of it (never the key itself)."""
    return hmac.new(key, b"jobsvc key id", hashlib.sha256).hexdigest()[:8]


def parse_key(text: str, position: int, count: int) -> bytes:
    """One item of ENCRYPTION_KEYS; the message names the setting and the item, never the key."""
    where = f"{SETTING}: item {position} of {count}"
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != 32:
        raise ValueError(
            f"{where} is not a urlsafe base64 32-byte key (make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'`)"
        )
    return key


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys of ENCRYPTION_KEYS, by id; `primary` seals."""

    primary: str
    ciphers: dict[str, AESGCM] = field(repr=False)
    hash_key: bytes = field(repr=False)  # never in a log line or a traceback's locals

    @classmethod
    def parse(cls, text: str) -> "Keyring":
        """From the setting's text; `ValueError` naming the setting for anything malformed."""
        items = [part for part in text.split(",") if part.strip()]
        if not items:
            raise ValueError(f"{SETTING} is set but names no key: unset it, or give keys")
        keys = [parse_key(item, i + 1, len(items)) for i, item in enumerate(items)]
        ids = [key_id(k) for k in keys]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{SETTING} names the same key twice")
        hash_key = hmac.new(keys[-1], b"jobsvc hash key", hashlib.sha256).digest()
        return cls(ids[0], {i: AESGCM(k) for i, k in zip(ids, keys, strict=True)}, hash_key)

    def seal(self, plaintext: bytes) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self.ciphers[self.primary].encrypt(nonce, plaintext, None)
        # Standard base64 through binascii: no `urlsafe` translation pass (a JSON string holds
        # `+` and `/` as they are).
        text = binascii.b2a_base64(nonce + sealed, newline=False).decode()
        return f"{PREFIX}{self.primary}:{text}"

    def open(self, token: str | bytes) -> bytes:
        kid, body = _split(token)
        cipher = self.ciphers.get(kid)
        if cipher is None:
            raise UnknownEncryptionKey(
                f"sealed with encryption key id {kid}, which {SETTING} does not hold "
                f"(it holds {', '.join(self.ciphers)})",
                kid,
            )
        try:
            data = binascii.a2b_base64(body)
            return cipher.decrypt(data[:_NONCE], data[_NONCE:], None)
        except Exception:  # InvalidTag, or a truncated value
            raise Undecryptable(
                f"a value sealed with encryption key id {kid} fails authentication "
                "(corrupt or altered)",
                kid,
            ) from None

    def reseal(self, token: str | bytes) -> str | None:
        """`token` sealed again with the first key; None if it is sealed with it already.
        `EncryptionError` if no key here opens it."""
        if _split(token)[0] == self.primary:
            return None
        return self.seal(self.open(token))

    def hash(self, text: str) -> str:
        """A keyed hash standing for a user value in a key name or a stored fingerprint."""
        return hmac.new(self.hash_key, text.encode(), hashlib.sha256).hexdigest()[:32]


def _split(token: str | bytes) -> tuple[str, bytes]:
    raw = token.encode() if isinstance(token, str) else token
    kid, _, body = raw[len(_PREFIX_BYTES) :].partition(b":")
    return kid.decode(errors="replace"), body


def is_sealed(value: object) -> bool:
    if isinstance(value, bytes):
        return value.startswith(_PREFIX_BYTES)
    return isinstance(value, str) and value.startswith(PREFIX)


_active: Keyring | None = None


def install(keyring: Keyring | None) -> None:
    """This process seals with `keyring` from now on (None: encryption off)."""
    global _active
    _active = keyring


def active() -> Keyring | None:
    return _active


def seal_json(value: Any) -> Any:
    """`value` sealed as JSON text when encryption is on; else `value` itself."""
    ring = _active
    if ring is None:
        return value
    return ring.seal(orjson.dumps(value))


def seal_bytes(data: bytes) -> bytes:
    """Stored bytes (a JSON document) sealed when encryption is on; else the same bytes."""
    ring = _active
    return data if ring is None else ring.seal(data).encode()


def open_bytes(data: bytes | str) -> bytes | str:
    """What `seal_bytes` stored: plain bytes come back as they are (written before encryption
    was on); a sealed value is opened, or `EncryptionError` names the key it needs."""
    if not is_sealed(data):
        return data
    ring = _active
    if ring is None:
        kid, _ = _split(data)
        raise UnknownEncryptionKey(
            f"sealed with encryption key id {kid}, and {SETTING} is not set here", kid
        )
    return ring.open(data)


def open_json(value: Any) -> Any:
    """What `seal_json` returned, as the value (plain values pass through)."""
    if not is_sealed(value):
        return value
    return orjson.loads(open_bytes(value))


def hashed(text: str) -> str:
    """`text` in a key name or fingerprint: itself, or its keyed hash when encryption is on."""
    ring = _active
    return text if ring is None else "#" + ring.hash(text)

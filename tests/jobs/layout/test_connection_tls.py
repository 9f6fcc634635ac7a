"""`rediss://` checks the server's certificate by default: a self-signed one (what Heroku
Redis presents, or what an attacker in the path would) is refused unless `REDIS_TLS_VERIFY=false`
says otherwise, and a certificate for another name is refused even from a trusted CA. Against
a real TLS server (`tests.support.tls_proxy`) in front of the test Valkey."""

from pathlib import Path
from urllib.parse import urlparse

import pytest
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.layout.connection import arq_redis_settings, create_redis, pubsub_client
from settings import Settings
from tests.support.certificates import needs_openssl, self_signed, signed_by_test_ca
from tests.support.tls_proxy import tls_front

pytestmark = needs_openssl


def _tls_settings(port: int, **options: object) -> Settings:
    return Settings(redis_url=f"rediss://localhost:{port}/0", **options)  # type: ignore[arg-type]


async def _answers(settings: Settings) -> bool:
    """Whether a command over TLS reaches the server: the pool's client and the pub/sub one."""
    for client in (create_redis(settings), pubsub_client(settings)):
        try:
            await client.set("tls-probe", "1")
            assert await client.get("tls-probe") == b"1"
        except RedisConnectionError as exc:
            assert "CERTIFICATE_VERIFY_FAILED" in str(exc), exc
            return False
        finally:
            await client.aclose()
    return True


async def test_a_self_signed_certificate_is_refused_unless_verification_is_turned_off(
    tmp_path: Path, redis_url: str
) -> None:
    plain = urlparse(redis_url)
    certificate = self_signed(tmp_path, "localhost")
    async with tls_front(certificate, plain.hostname or "", plain.port or 6379) as port:
        assert not await _answers(_tls_settings(port))  # the default: verified, refused
        assert await _answers(_tls_settings(port, redis_tls_verify=False))  # Heroku's way
        # Better than no check: trust that one certificate.
        assert await _answers(_tls_settings(port, redis_tls_ca_file=str(certificate.ca)))


async def test_a_certificate_for_another_name_is_refused_even_from_a_trusted_ca(
    tmp_path: Path, redis_url: str
) -> None:
    plain = urlparse(redis_url)
    (tmp_path / "right").mkdir()
    (tmp_path / "wrong").mkdir()
    right = signed_by_test_ca(tmp_path / "right", "localhost")
    wrong = signed_by_test_ca(tmp_path / "wrong", "redis.other.test")
    async with tls_front(right, plain.hostname or "", plain.port or 6379) as port:
        assert await _answers(_tls_settings(port, redis_tls_ca_file=str(right.ca)))
    async with tls_front(wrong, plain.hostname or "", plain.port or 6379) as port:
        assert not await _answers(_tls_settings(port, redis_tls_ca_file=str(wrong.ca)))


def test_arq_settings_verify_as_the_service_does() -> None:
    checked = arq_redis_settings(Settings(redis_url="rediss://h:6380/0"))
    assert (checked.ssl_cert_reqs, checked.ssl_check_hostname) == ("required", True)
    unchecked = arq_redis_settings(Settings(redis_url="rediss://h:6380/0", redis_tls_verify=False))
    assert (unchecked.ssl_cert_reqs, unchecked.ssl_check_hostname) == ("none", False)


def test_a_ca_file_with_verification_off_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_TLS_VERIFY", "false")
    monkeypatch.setenv("REDIS_TLS_CA_FILE", "/etc/ssl/ca.pem")
    with pytest.raises(ValidationError, match="set one of them"):
        Settings()

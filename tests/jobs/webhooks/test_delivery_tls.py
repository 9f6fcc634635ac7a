"""HTTPS deliveries go to the checked address yet verify the certificate against the name.

The receiver's certificate names `localhost` only (no IP address), and the request is sent to
the address `localhost` resolved to: it is accepted only because the TLS server name and the
hostname check use the name. Certificates come from the `openssl` command (a test CA)."""

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.webhooks.delivery import NO_ANSWER, post
from settings import Settings
from tests.support.certificates import needs_openssl, signed_by_test_ca
from tests.support.webhook_receiver import webhook_receiver

pytestmark = needs_openssl

LOCAL = Settings(webhook_allow_private=True, webhook_timeout_s=5)


def _certificates(folder: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server certificate for DNS name `name` signed by a test CA: (the server's context, a
    client context trusting the CA)."""
    files = signed_by_test_ca(folder, name)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.certificate, files.key)
    client = ssl.create_default_context(cafile=str(files.ca))
    return server, client


@pytest.fixture
def tls_for_localhost(tmp_path: Path) -> Iterator[tuple[ssl.SSLContext, ssl.SSLContext]]:
    yield _certificates(tmp_path, "localhost")


async def test_https_is_sent_to_the_checked_address_with_the_name_for_tls(
    tls_for_localhost: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_tls, client_tls = tls_for_localhost
    with webhook_receiver(tls=server_tls) as receiver:
        url = receiver.url(host="localhost", scheme="https")
        answer = await post(
            url, b"{}", {"X-Webhook-Id": "e1"}, receiver.allowed_in(LOCAL), ssl_context=client_tls
        )
        assert (answer.outcome, answer.status_code) == ("delivered", 200)
        [request] = receiver.requests("/hook")
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert request.headers["X-Webhook-Id"] == "e1"


async def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    server_tls, client_tls = _certificates(tmp_path, "other.test")
    with webhook_receiver(tls=server_tls) as receiver:
        url = receiver.url(host="localhost", scheme="https")
        answer = await post(url, b"{}", {}, receiver.allowed_in(LOCAL), ssl_context=client_tls)
        assert receiver.requests() == []
    assert answer.outcome == "failed"
    assert answer.cause is not None and "CERTIFICATE_VERIFY_FAILED" in answer.cause
    assert answer.error == NO_ANSWER  # what clients read does not say it was TLS

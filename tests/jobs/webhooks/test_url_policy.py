"""Where a webhook may go (`jobs.webhooks.url_policy`): the enqueue-time check of a callback
URL, and the delivery-time resolution that checks every address a name resolves to."""

import ipaddress

import pytest

from jobs.webhooks.url_policy import (
    WebhookRefused,
    check_url,
    literal_address,
    non_global_reason,
    redact_url,
    resolve,
)
from settings import Settings


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.7/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://127.1/hook",
        "https://2130706433/hook",
        "http://example.com/hook",
        "ftp://example.com/hook",
    ],
)
def test_private_literal_addresses_and_plain_http_are_refused_by_default(url: str) -> None:
    with pytest.raises(WebhookRefused):
        check_url(url, Settings())


def test_public_addresses_and_names_pass_the_enqueue_check() -> None:
    assert check_url("https://8.8.8.8/hook", Settings()).address is not None
    # A name is checked only once resolved, at delivery.
    assert check_url("https://localhost/hook", Settings()).host == "localhost"
    allowed = Settings(webhook_allow_private=True, webhook_allow_http=True)
    assert check_url("http://10.0.0.7/hook", allowed).port == 80


@pytest.mark.parametrize(
    ("url", "host_header"),
    [
        ("https://example.com/hook", "example.com"),
        ("https://example.com:8443/hook", "example.com:8443"),
        ("http://example.com:80/hook", "example.com"),
        ("https://[2001:4860:4860::8888]/hook", "[2001:4860:4860::8888]"),
        ("https://[2001:4860:4860::8888]:444/hook", "[2001:4860:4860::8888]:444"),
    ],
)
def test_the_checked_target_keeps_the_host_as_written_for_its_host_header(
    url: str, host_header: str
) -> None:
    allowed = Settings(webhook_allow_http=True, webhook_allowed_ports=[443, 80, 8443, 444])
    assert check_url(url, allowed).host_header == host_header


def test_the_fragment_is_dropped_and_the_query_kept() -> None:
    target = check_url("https://example.com/hook?order=42#top", Settings())
    assert target.url == "https://example.com/hook?order=42"


@pytest.mark.parametrize(
    "url",
    [
        "https://0x7f.0.0.1/hook",  # 127.0.0.1 in a legacy spelling resolvers accept
        "https://[::ffff:169.254.169.254]/hook",  # the metadata service, IPv4-mapped
        "https://[2002:a00:1::]/hook",  # 6to4 around 10.0.0.1
        "https://100.64.0.1/hook",  # shared address space
        "https:///hook",
        "https://example.com:99999/hook",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_more_addresses_and_urls_that_are_refused(url: str) -> None:
    with pytest.raises(WebhookRefused):
        check_url(url, Settings())


def test_a_name_ending_in_letters_is_a_name_not_a_legacy_address() -> None:
    assert literal_address("1.2.3.com") is None
    assert literal_address("127.1") == ipaddress.IPv4Address("127.0.0.1")


async def test_a_literal_address_is_resolved_to_itself_and_checked_again() -> None:
    public = check_url("https://8.8.8.8/hook", Settings())
    assert await resolve(public, Settings()) == [ipaddress.IPv4Address("8.8.8.8")]
    loopback = check_url("https://127.0.0.1/hook", Settings(webhook_allow_private=True))
    with pytest.raises(WebhookRefused):
        await resolve(loopback, Settings())  # the delivery's settings decide


@pytest.mark.parametrize(
    "url",
    ["https://user:pw@example.com/hook", "https://user@example.com/hook", "https://:pw@8.8.8.8/"],
)
def test_credentials_in_the_url_are_refused_without_being_repeated(url: str) -> None:
    with pytest.raises(WebhookRefused) as refused:
        check_url(url, Settings())
    assert "pw" not in str(refused.value) and "example" not in str(refused.value)


async def test_a_refused_name_does_not_disclose_what_it_resolves_to() -> None:
    target = check_url("https://localhost/hook", Settings())
    with pytest.raises(WebhookRefused) as refused:
        await resolve(target, Settings())
    message = str(refused.value)
    assert message.startswith("localhost resolves to a non-public address")
    assert "127.0.0.1" not in message and "::1" not in message and "loopback" not in message


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com:8443/hook",
        "https://example.com:22/hook",
        "https://8.8.8.8:6379/hook",
    ],
)
def test_only_the_allowed_ports_pass(url: str) -> None:
    default = Settings(webhook_allow_http=True)
    with pytest.raises(WebhookRefused) as refused:
        check_url(url, default)
    assert "WEBHOOK_ALLOWED_PORTS=443,80" in str(refused.value)
    assert check_url(url, default.model_copy(update={"webhook_allowed_ports": [8443, 22, 6379]}))


def test_the_allowed_ports_are_read_as_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOWED_PORTS", "443, 8443")
    assert Settings().webhook_allowed_ports == [443, 8443]
    assert check_url("https://example.com:8443/hook", Settings()).port == 8443
    with pytest.raises(WebhookRefused):
        check_url("http://example.com/hook", Settings(webhook_allow_http=True))


@pytest.mark.parametrize(
    "address",
    [
        "192.0.0.8",  # global to Python 3.11.7's `ipaddress`, special-purpose to IANA
        "192.0.0.9",
        "192.0.0.170",
        "192.0.2.1",
        "192.31.196.1",
        "192.88.99.1",
        "192.175.48.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "240.0.0.1",
        "255.255.255.255",
        "224.0.0.1",
        "64:ff9b::a00:1",  # NAT64 in front of 10.0.0.1
        "64:ff9b:1::1",
        "100::1",
        "2001::1",  # Teredo
        "2001:db8::1",
        "2620:4f:8000::1",
        "3fff::1",
        "5f00::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
    ],
)
def test_every_special_purpose_block_is_refused_whatever_the_python(address: str) -> None:
    ip = ipaddress.ip_address(address)
    with pytest.raises(WebhookRefused) as refused:
        check_url(f"https://{ip if ip.version == 4 else f'[{ip}]'}/hook", Settings())
    assert "WEBHOOK_ALLOW_PRIVATE" in str(refused.value)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "192.0.3.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"]
)
def test_public_addresses_next_to_special_blocks_pass(address: str) -> None:
    assert non_global_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example/hook?token=abc&x=1", "https://h.example/hook?<redacted>"),
        ("https://h.example/hook?token=abc#top", "https://h.example/hook?<redacted>"),
        ("https://h.example/hook#top", "https://h.example/hook"),
        ("https://h.example/hook", "https://h.example/hook"),
    ],
)
def test_a_shown_url_has_its_query_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown

"""Where a webhook may go (`jobs.webhooks.url_policy`): the enqueue-time check of a callback
URL, and the delivery-time resolution that checks every address a name resolves to."""

import pytest

from jobs.webhooks.url_policy import WebhookRefused, check_url
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

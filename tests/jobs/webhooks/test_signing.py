"""Webhook signatures (`jobs.webhooks.signing`): what a receiver checks."""

import time

from jobs.webhooks.signing import sign, verify_signature


def test_a_signature_verifies_with_any_secret_of_the_receivers_list() -> None:
    body, now = b'{"id": "j1"}', time.time()
    header = sign(body, "new", int(now))
    assert verify_signature(body, header, ["new"], now=now)
    assert verify_signature(body, header, ["old", "new"], now=now)
    assert not verify_signature(body, header, ["old"], now=now)
    assert not verify_signature(body + b" ", header, ["new"], now=now)
    assert not verify_signature(body, header, ["new"], now=now + 301)  # a replay, too late
    assert not verify_signature(body, "v1=" + header.partition("v1=")[2], ["new"], now=now)

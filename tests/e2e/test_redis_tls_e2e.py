"""A web process behind `rediss://` with a self-signed certificate (Heroku Redis's kind, or a
man in the middle's): by default it refuses the server and answers 503; with
`REDIS_TLS_VERIFY=false` (what app.json sets for Heroku) it enqueues."""

from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.support.certificates import needs_openssl, self_signed
from tests.support.processes import Processes
from tests.support.tls_proxy import tls_front

pytestmark = [pytest.mark.e2e, needs_openssl]


async def test_the_web_refuses_a_self_signed_redis_unless_told_to_accept_it(
    processes: Processes, redis_url: str, tmp_path: Path
) -> None:
    plain = urlparse(redis_url)
    async with tls_front(
        self_signed(tmp_path, "localhost"), plain.hostname or "", plain.port or 0
    ) as port:
        tls_url = f"rediss://localhost:{port}{plain.path}"
        verifying = await processes.web(REDIS_URL=tls_url)
        trusting = await processes.web(REDIS_URL=tls_url, REDIS_TLS_VERIFY="false")
        async with httpx.AsyncClient(timeout=15) as client:
            refused = await client.post(f"{verifying}/jobs/ping", json={})
            accepted = await client.post(f"{trusting}/jobs/ping", json={})
            stored = await client.get(f"{trusting}/jobs/{accepted.json()['id']}")
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "redis_unavailable"
    assert "CERTIFICATE_VERIFY_FAILED" in processes.log_text("web")
    assert accepted.status_code == 202, accepted.text
    assert stored.status_code == 200 and stored.json()["name"] == "ping"

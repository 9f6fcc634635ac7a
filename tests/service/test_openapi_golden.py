"""The OpenAPI document is part of the contract: a refactor must leave it byte for byte.

It is fetched in a fresh interpreter with the shipped catalog only (the examples on,
`JOB_MODULES` empty): the job registry is process-wide, so inside the test session the suites'
own jobs would show too.
After a change that means to alter the API, regenerate the golden file:

    python -m tests.service.test_openapi_golden > tests/golden/openapi.json
"""

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx

GOLDEN = Path(__file__).parents[1] / "golden" / "openapi.json"


async def served_openapi() -> bytes:
    """`GET /openapi.json` as the app serves it (no Redis needed: the document is static)."""
    from service.main import create_app
    from settings import Settings

    app = create_app(Settings(job_modules=[], api_keys=[], examples=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/openapi.json")
    response.raise_for_status()
    return response.content


def test_openapi_document_is_byte_identical_to_the_golden_one() -> None:
    fresh = subprocess.run(
        [sys.executable, "-m", "tests.service.test_openapi_golden"],
        capture_output=True,
        check=True,
        cwd=Path(__file__).parents[2],
    ).stdout
    assert fresh == GOLDEN.read_bytes()


if __name__ == "__main__":
    sys.stdout.buffer.write(asyncio.run(served_openapi()))

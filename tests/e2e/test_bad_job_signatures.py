"""A job whose signature cannot become a model, or whose `run_in` does not exist or does not
fit, stops a real worker process at start with a message naming the job (not a failure per
try later)."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import BASE_ENV, ROOT

pytestmark = pytest.mark.e2e

BAD = {
    "varargs": (
        "def notify(*messages: str) -> None: ...",
        "*messages cannot become an input field",
    ),
    "unannotated": (
        "def notify(message) -> None: ...",
        "parameter 'message' needs a type annotation",
    ),
    "run_in": (
        '@job(run_in="gpu")\ndef notify(message: str) -> None: ...',
        "run_in must be one of",
    ),
    "async_process": (
        '@job(run_in="process")\nasync def notify(message: str) -> None: ...',
        "run_in='process' takes a plain def",
    ),
    "wrong_context": (
        "def notify(ctx: JobContext, message: str) -> None: ...",
        "a def takes SyncJobContext, not JobContext",
    ),
}


@pytest.mark.parametrize("kind", list(BAD))
async def test_a_bad_declaration_stops_the_worker_at_start_naming_the_job(
    tmp_path: Path, redis_url: str, kind: str
) -> None:
    source, said = BAD[kind]
    if not source.startswith("@job"):
        source = "@job()\n" + source
    module = f"from jobs import JobContext, job\n\n{source}\n"
    (tmp_path / "bad_signature_jobs.py").write_text(module)
    env = {
        **os.environ,
        **BASE_ENV,
        "REDIS_URL": redis_url,
        "JOB_MODULES": "bad_signature_jobs",
        "PYTHONPATH": str(tmp_path),
    }
    started = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "jobs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "bad_signature_jobs" in started.stderr
    assert said in started.stderr, started.stderr[-2000:]
    assert "'notify'" in started.stderr  # the job, by name

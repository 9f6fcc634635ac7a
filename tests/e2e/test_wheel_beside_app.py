"""The installed wheel inside someone else's application: one with its own `settings.py` and
its own `service` package (the names our checkout uses at its top level). The wheel ships no
top-level `settings` (ours is `jobs.settings`), and `jobs` never imports `service`, so the
application's modules answer to their names while `from jobs import ...` runs its jobs."""

from pathlib import Path
from textwrap import dedent

import pytest
import redis as sync_redis

from tests.support.wheel import clean_env, install_wheel, python_of, run

pytestmark = pytest.mark.e2e

APP = {
    "settings.py": """
        # The application's configuration: no `Settings` class, as in many apps.
        GREETING = "hello from the app's settings"
    """,
    "service/__init__.py": """
        OWNER = "the app's service package"
    """,
    "app_jobs.py": """
        import settings
        from service import OWNER

        from jobs import Model, job


        class Greeting(Model):
            text: str


        @job(max_tries=1)
        async def greet(ctx, payload: Greeting) -> Greeting:
            return Greeting(text=f"{payload.text} | {settings.GREETING} | {OWNER}")
    """,
    "main.py": """
        import asyncio
        import subprocess
        import sys

        import settings
        from service import OWNER

        from app_jobs import Greeting, greet
        from jobs import JobClient, create_redis
        from jobs.settings import get_settings


        async def main() -> None:
            ours = get_settings()  # the job service's settings, beside the app's own
            redis = create_redis(ours)
            try:
                handle = await JobClient(redis, ours).enqueue(greet, Greeting(text="hi"))
                # The app's worker: the Procfile's `python -m jobs`, here until the queue is empty.
                subprocess.run([sys.executable, "-m", "jobs", "--burst"], check=True)
                record = await JobClient(redis, ours).wait_final(handle.id)
            finally:
                await redis.aclose()
            print(settings.GREETING)
            print(OWNER)
            print(record.status.value, record.result["text"])


        asyncio.run(main())
    """,
}


def test_an_app_with_its_own_settings_and_service_runs_our_jobs(
    tmp_path: Path, redis_url: str
) -> None:
    venv = install_wheel(tmp_path)
    app = tmp_path / "app"
    for name, text in APP.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(dedent(text).lstrip())
    sync_redis.Redis.from_url(redis_url).flushdb()
    env = clean_env(REDIS_URL=redis_url, JOB_MODULES="app_jobs", LOG_LEVEL="WARNING")

    lines = run([str(python_of(venv)), "main.py"], cwd=app, timeout_s=90, env=env).splitlines()

    assert lines[-3:] == [
        "hello from the app's settings",
        "the app's service package",
        "complete hi | hello from the app's settings | the app's service package",
    ]

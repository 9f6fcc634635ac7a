"""The built wheel, installed (not editable) in a fresh venv, runs web + worker from outside the
checkout: what `pip install .` gives a user, package data (Lua scripts, dashboard) included."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis as sync_redis

from scripts.embedded_redis import free_port
from tests.support.processes import stop_all, wait_ready
from tests.support.wheel import ROOT, clean_env, install_wheel, python_of, run

pytestmark = pytest.mark.e2e


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    return install_wheel(tmp_path)


def test_installed_wheel_imports_from_the_venv_with_its_scripts(
    installed: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = (
        "import importlib.resources as r, jobs, jobs.settings, service; "
        "print(jobs.__file__); print(service.__file__); print(jobs.settings.__file__); "
        "print(sorted(p.name for p in r.files('jobs.layout').joinpath('lua').iterdir()"
        " if p.name.endswith('.lua'))); "
        "print(sorted(p.name for p in r.files('jobs.layout').joinpath('lua', 'includes').iterdir()"
        " if p.name.endswith('.lua'))); "
        "print(r.files('service').joinpath('dashboard', 'index.html').is_file())"
    )
    lines = run([str(python_of(installed)), "-c", probe], cwd=outside).splitlines()
    for module_file in lines[:3]:
        assert Path(module_file).is_relative_to(installed), module_file
    lua = ROOT / "jobs" / "layout" / "lua"
    assert lines[3] == repr(sorted(p.name for p in lua.glob("*.lua")))
    assert lines[4] == repr(sorted(p.name for p in (lua / "includes").glob("*.lua")))
    assert lines[5] == "True"


@pytest.fixture
def stack(installed: Path, tmp_path: Path, redis_url: str) -> Iterator[str]:
    """The installed web (uvicorn) and worker, run from a directory outside the checkout."""
    sync_redis.Redis.from_url(redis_url).flushdb()
    workdir = tmp_path / "run"
    workdir.mkdir()
    port = free_port()
    env = clean_env(
        REDIS_URL=redis_url, PORT=str(port), HEARTBEAT_S="1", SHUTDOWN_GRACE_S="2", EXAMPLES="true"
    )
    python = str(python_of(installed))
    commands = {
        "web": [
            python,
            "-m",
            "uvicorn",
            "service.main:app",
            "--port",
            str(port),
            "--no-access-log",
        ],
        "worker": [python, "-m", "jobs"],
    }
    processes = []
    for name, command in commands.items():
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=workdir,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_all(processes, grace_s=10)


async def test_installed_wheel_runs_a_job_end_to_end(stack: str) -> None:
    await wait_ready(stack)
    async with httpx.AsyncClient(base_url=stack, timeout=15) as client:
        created = await client.post("/jobs/ping", json={"message": "from the wheel"})
        assert created.status_code == 202, created.text
        view = (await client.get(created.headers["location"], params={"wait": 10})).json()
        assert view["status"] == "complete", view
        assert view["result"]["message"] == "from the wheel"
        assert (await client.get("/dashboard/")).status_code == 200

"""The built wheel, installed (not editable) in a fresh venv, runs web + worker from outside the
checkout: what `pip install .` gives a user, package data (Lua scripts, dashboard) included."""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis as sync_redis

from scripts.embedded_redis import free_port
from tests.support.processes import stop_all, wait_ready

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

# Not part of the distribution; copying them would only slow the build down.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench"
)


def run(command: list[str], cwd: Path, timeout_s: float = 60) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(work: Path) -> Path:
    """`pip wheel --no-deps` of a copy of the checkout (the shared checkout stays untouched)."""
    source, out = work / "source", work / "dist"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    built = None
    if importlib.util.find_spec("setuptools") is not None:
        # Offline: the build backend this venv already has (older setuptools also need `wheel`;
        # if that is missing the build fails here and the isolated build below is used).
        built = subprocess.run(
            [*wheel, "--no-build-isolation"], capture_output=True, text=True, timeout=60
        )
    if built is None or built.returncode != 0:
        run(wheel, cwd=work)
    (path,) = out.glob("jobservice-*.whl")
    return path


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A fresh venv with the wheel installed; its dependencies come from this venv, unbuilt."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = python_of(venv)
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    run([*pip, "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp_path)
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp_path
    )
    # A plain path line: this venv's site-packages joins sys.path, but its `.pth` files (among
    # them the checkout's editable-install finder) are not processed.
    Path(site.strip(), "_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "JOB_MODULES"}}
    return {**env, "API_KEYS": "", "PYTHONUNBUFFERED": "1", **extra}


def test_installed_wheel_imports_from_the_venv_with_its_scripts(
    installed: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = (
        "import importlib.resources as r, jobs, service, settings; "
        "print(jobs.__file__); print(service.__file__); print(settings.__file__); "
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
    env = clean_env(REDIS_URL=redis_url, PORT=str(port), HEARTBEAT_S="1", SHUTDOWN_GRACE_S="2")
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

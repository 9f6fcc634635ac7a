"""The built wheel in a fresh venv, for tests of what `pip install .` gives a user."""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Not part of the distribution; copying them would only slow the build down.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench"
)


def run(
    command: list[str], cwd: Path, timeout_s: float = 60, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, env=env
    )
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


def fresh_venv(work: Path) -> Path:
    """A new venv without pip (this venv's pip installs into it with `--python`)."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    return venv


def pip_into(venv: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "--python", str(python_of(venv))]


def lend_dependencies(venv: Path) -> None:
    """This venv's site-packages joins `venv`'s sys.path as a plain path line: its `.pth` files
    (among them the checkout's editable-install finder) are not processed."""
    site = run(
        [str(python_of(venv)), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        cwd=venv,
    )
    Path(site.strip(), "_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")


def install_wheel(work: Path) -> Path:
    """A fresh venv with the wheel installed; its dependencies come from this venv, unbuilt."""
    wheel = build_wheel(work)
    venv = fresh_venv(work)
    run([*pip_into(venv), "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=work)
    lend_dependencies(venv)
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "JOB_MODULES"}}
    return {**env, "API_KEYS": "", "PYTHONUNBUFFERED": "1", **extra}

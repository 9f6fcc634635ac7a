"""`pip install -r requirements.txt`, as the Heroku buildpack runs it in the app's root, into a
fresh venv: the app imports from that venv, outside the checkout (dependencies lent from this
venv; the build backend from the index only if this venv's cannot build offline)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.wheel import (
    NOT_SOURCE,
    ROOT,
    clean_env,
    fresh_venv,
    lend_dependencies,
    pip_into,
    python_of,
    run,
)

pytestmark = pytest.mark.e2e


def test_requirements_txt_installs_an_app_that_imports(tmp_path: Path) -> None:
    source = tmp_path / "build"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    venv = fresh_venv(tmp_path)
    lend_dependencies(venv)  # (the build backend, setuptools, among them)
    install = [*pip_into(venv), "install", "-q", "--no-deps", "-r", "requirements.txt"]
    offline = subprocess.run(
        [*install, "--no-index", "--no-build-isolation"], cwd=source, capture_output=True
    )
    if offline.returncode != 0:  # e.g. an older setuptools without `wheel`: build it isolated
        run(install, cwd=source, timeout_s=120)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import jobs, service.main; from jobs.settings import Settings; "
        "app = service.main.create_app(Settings()); "
        "print(jobs.__file__); print(type(app).__name__)"
    )
    lines = run([str(python_of(venv)), "-c", probe], cwd=elsewhere, env=clean_env()).splitlines()
    assert Path(lines[0]).is_relative_to(venv), lines[0]
    assert lines[1] == "FastAPI"

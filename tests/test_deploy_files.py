"""What a Heroku-style build finds in the repository, read the way the platform reads it.

The Heroku Python buildpack (heroku/heroku-buildpack-python, README "Application Requirements")
installs an app only if its root holds one package manager file: `requirements.txt` (pip),
`Pipfile`/`Pipfile.lock` (pipenv), `poetry.lock` (Poetry) or `uv.lock` (uv, which also needs
`.python-version`); a `pyproject.toml` alone stops the build with "Couldn't find any supported
Python package manager files". With several it refuses to guess, so exactly one must be there.
The Python version comes from `.python-version` (its major form, e.g. `3.11`, takes the latest
patch release). The Dockerfile and app.json must agree with what the buildpack does."""

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_MANAGER_FILES = ("requirements.txt", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock")


def _requirement_lines() -> list[str]:
    text = (ROOT / "requirements.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_the_buildpack_finds_exactly_one_package_manager_file_pip_s() -> None:
    present = [name for name in PACKAGE_MANAGER_FILES if (ROOT / name).is_file()]
    assert present == ["requirements.txt"]
    # The project itself, whose pyproject pins every dependency: one list, in one place.
    assert _requirement_lines() == ["."]
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all(re.fullmatch(r"[\w.\-\[\]]+==[\w.]+", pin) for pin in pins), pins


def test_python_version_file_is_a_major_version_the_project_supports() -> None:
    version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version)
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert tuple(map(int, version.split("."))) >= tuple(map(int, floor.lstrip(">=").split(".")))


def test_the_dockerfile_installs_what_the_buildpack_installs_on_the_same_python() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    version = (ROOT / ".python-version").read_text().strip()
    images = re.findall(r"^FROM python:([\d.]+)", dockerfile, flags=re.MULTILINE)
    assert images and set(images) == {version}
    assert "-r requirements.txt" in dockerfile
    assert "COPY pyproject.toml README.md requirements.txt ./" in dockerfile


def test_app_json_builds_with_the_python_buildpack_and_runs_the_procfile() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    assert app["buildpacks"] == [{"url": "heroku/python"}]
    processes = {line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines()}
    assert set(app["formation"]) == processes - {""}
    assert int(app["env"]["REDIS_MAX_CONNECTIONS"]["value"]) >= 2


def test_deploy_examples_query_only_metrics_the_service_exports() -> None:
    """A renamed metric would leave the alert rules and the autoscaler reading nothing."""
    exported = set(re.findall(r'"(jobsvc_[a-z_]+)"', (ROOT / "service/metrics.py").read_text()))
    suffixes = ("_bucket", "_count", "_sum", "_total")
    for example in ("prometheus-alerts.yml", "keda-scaledobject.yaml"):
        text = (ROOT / "deploy" / example).read_text()
        used = set(re.findall(r"\b(jobsvc_[a-z_]+)", text))
        assert used, example
        for name in used:
            base = next((name[: -len(s)] for s in suffixes if name.endswith(s)), name)
            assert name in exported or base in exported, (example, name)


def test_app_json_accepts_heroku_redis_self_signed_certificate_explicitly() -> None:
    """`rediss://` verifies certificates by default; Heroku Redis's are self-signed, so the
    deploy says, in so many words, to accept them (README, Security)."""
    app = json.loads((ROOT / "app.json").read_text())
    assert any(addon["plan"].startswith("heroku-redis") for addon in app["addons"])
    assert app["env"]["REDIS_TLS_VERIFY"]["value"] == "false"

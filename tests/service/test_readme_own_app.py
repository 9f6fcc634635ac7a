"""The README's "Your own app" section, run as written: its app and its test file, in a pytest
of their own (a subprocess), with the test kit's plugin, a real Valkey and worker."""

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.support.readme import README, code_blocks

SECTION = "Your own app: JobsDep and tests"


async def test_the_readme_own_app_test_passes_as_written(tmp_path: Path) -> None:
    app, test = code_blocks(SECTION, "python")
    (tmp_path / "shop.py").write_text(app)
    (tmp_path / "test_shop.py").write_text(test)
    project = README.parent
    ran = await asyncio.to_thread(
        subprocess.run,
        # `-p`: the plugin before this checkout is installed with its entry point.
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "jobs.testing.entry",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{project}", "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "2 passed" in ran.stdout

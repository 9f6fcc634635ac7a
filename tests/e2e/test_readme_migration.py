"""The README's "Coming from BackgroundTasks, ARQ or Celery" section: each Python block imports
as a module of its own (in a fresh interpreter: each declares its own jobs), and the names it
uses exist."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.readme import README, code_blocks

SECTION = "Coming from BackgroundTasks, ARQ or Celery"

CHECK = """
import inspect, sys
sys.path.insert(0, {folder!r})
module = __import__("readme_block")
from jobs.declare.registry import DECLARED
print(sorted(name for name in DECLARED if name in vars(module)))
"""


@pytest.mark.parametrize("index", range(4))
def test_the_migration_guide_snippets_import_as_written(index: int, tmp_path: Path) -> None:
    blocks = code_blocks(SECTION, "python")
    assert len(blocks) == 4
    (tmp_path / "readme_block.py").write_text(blocks[index])
    ran = subprocess.run(
        [sys.executable, "-c", CHECK.format(folder=str(tmp_path))],
        cwd=README.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    declared = {
        0: "[]",  # the BackgroundTasks original declares nothing
        1: "['send_notification']",
        2: "['nightly_report', 'send_invoice']",
        3: "['count_words', 'send_email', 'total']",
    }
    assert ran.stdout.strip() == declared[index]

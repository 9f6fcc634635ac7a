"""Rewrite `tests/golden/records.json` from a run of `tests/jobs/layout/test_records_golden.py`.

    python -m tests.golden.capture

The golden data comes from the test's own scenario and codec inputs (run by pytest with its
fixtures, in capture mode), so the generator and the test cannot drift apart. Review the
diff before committing it: every changed line is a changed stored record.
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
GOLDEN = Path(__file__).parent / "records.json"
CAPTURE_ENV = "GOLDEN_RECORDS_CAPTURE"
"""Set here for the pytest run: the test writes its part of the golden file, then compares."""
TEST = "tests/jobs/layout/test_records_golden.py"


def main() -> int:
    os.environ[CAPTURE_ENV] = "1"
    GOLDEN.unlink(missing_ok=True)  # nothing of an older layout survives
    # Not imported here: pytest must import the test module itself (assertion rewriting).
    return int(pytest.main(["-q", "-p", "no:cacheprovider", f"--rootdir={ROOT}", TEST]))


if __name__ == "__main__":
    sys.exit(main())

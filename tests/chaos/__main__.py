"""`make chaos` (`python -m tests.chaos`): one chaos run of `CHAOS_SECONDS` (default 300), through
the faults `CHAOS_FAULTS` names (default: all, in turn).

Prints each fault step as it runs, then every violation with its history slice and the table
per fault; writes the figures to `chaos-figures.json` in the run's directory. Exits 1 on any
violation or a fault step that did not happen.
"""

import asyncio
import sys
import tempfile
from pathlib import Path

import orjson
from pydantic_settings import BaseSettings, SettingsConfigDict

from tests.chaos.faults import FAULTS
from tests.chaos.run import report, run


class ChaosRun(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True)

    chaos_seconds: float = 300.0
    chaos_dir: Path | None = None
    """Where the logs and figures go (a new temporary directory if unset)."""
    chaos_faults: str = ""
    """Comma-separated fault names (`tests.chaos.faults.FAULTS`) to schedule instead of all."""


def main() -> int:
    config = ChaosRun()
    directory = config.chaos_dir or Path(tempfile.mkdtemp(prefix="chaos-"))
    directory.mkdir(parents=True, exist_ok=True)
    print(f"chaos run: {config.chaos_seconds:.0f} s, logs in {directory}", flush=True)
    faults = [name.strip() for name in config.chaos_faults.split(",") if name.strip()]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        print(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
        return 2
    outcome = asyncio.run(run(config.chaos_seconds, directory, faults or None))
    print(report(outcome))
    (directory / "chaos-figures.json").write_bytes(
        orjson.dumps(outcome.figures, option=orjson.OPT_INDENT_2)
    )
    return 1 if outcome.violations or outcome.faults_missing else 0


if __name__ == "__main__":
    sys.exit(main())

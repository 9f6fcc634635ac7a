"""The worker (`python -m jobs`): claim, run one try, settle; leases, heartbeats.

`loop.Worker` is the process; each other module is one of its parts. `WorkerSettings` is here
for stock ARQ's CLI: `arq --check jobs.worker.WorkerSettings` (see `arq_check`).
"""

from typing import Any


def __getattr__(name: str) -> Any:
    # Built on first access, not at import: settings are read lazily (`arq --check` imports).
    if name == "WorkerSettings":
        from jobs.worker.arq_check import stock_worker_settings

        return stock_worker_settings()
    raise AttributeError(name)

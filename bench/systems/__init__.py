"""The systems under test, by name, and which virtualenv runs each.

taskiq-redis 1.2.4 needs redis>=8 while ARQ 0.28 (and so our service) needs redis<6: taskiq
runs from its own virtualenv (`bench/.venv-taskiq`), everything else from `bench/.venv`.
Modules are imported lazily: each interpreter has only its own system's dependencies.
"""

from __future__ import annotations

import importlib

from bench.systems.base import System

# name -> (module, virtualenv)
SYSTEMS: dict[str, tuple[str, str]] = {
    "ours": ("bench.systems.ours", "main"),
    "arq_default": ("bench.systems.arq_stock", "main"),
    "arq_tuned": ("bench.systems.arq_stock", "main"),
    "saq": ("bench.systems.saq_sys", "main"),
    "taskiq": ("bench.systems.taskiq_sys", "taskiq"),
}
PEERS = ("saq", "taskiq")
BASELINE = "arq_tuned"


def get(name: str) -> System:
    module_name, _ = SYSTEMS[name]
    module = importlib.import_module(module_name)
    return module.make(name)  # type: ignore[no-any-return]

"""Small statistics helpers (no numpy: this runs in every virtualenv)."""

from __future__ import annotations

import math
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(values_ms: list[float]) -> dict[str, Any]:
    v = sorted(values_ms)
    if not v:
        return {"n": 0}
    return {
        "n": len(v),
        "p50_ms": percentile(v, 50),
        "p99_ms": percentile(v, 99),
        "mean_ms": sum(v) / len(v),
        "max_ms": v[-1],
        "min_ms": v[0],
    }

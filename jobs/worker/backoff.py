"""When a failed try runs again: exponential backoff with full jitter.

Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads a burst of
failures over the whole window instead of re-synchronising them on every try.
"""

import random


def backoff_s(tries: int, base_s: float, max_s: float) -> float:
    """Delay after `tries` failed tries: uniform in [0, min(max, base * 2**(tries-1))]."""
    ceiling = min(max_s, base_s * 2 ** max(tries - 1, 0))
    return random.uniform(0, ceiling)

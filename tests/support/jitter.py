"""Backoff jitter pinned down, to read the exponential ceiling off the draws."""

import random


class Ceiling(random.Random):
    """Always draws the top of the jitter window, to read the exponential ceiling off it."""

    def uniform(self, a: float, b: float) -> float:
        return b

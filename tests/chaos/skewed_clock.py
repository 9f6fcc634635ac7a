"""`python -m tests.chaos.skewed_clock`: a worker whose wall clock is `CHAOS_CLOCK_SKEW_S` off.

`faketime` is not on every machine (nor is LD_PRELOAD allowed everywhere): the worker's
`time.time` is shifted instead, for this process only, before anything reads it. Leases,
claims and schedules take the server's clock, so nothing the checker sees may change.
"""

import time

from pydantic_settings import BaseSettings, SettingsConfigDict


class SkewEnvironment(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True)

    chaos_clock_skew_s: float = 0.0


def skew_clock(offset_s: float) -> None:
    real_time, real_time_ns = time.time, time.time_ns
    time.time = lambda: real_time() + offset_s
    time.time_ns = lambda: real_time_ns() + int(offset_s * 1e9)


if __name__ == "__main__":
    skew_clock(SkewEnvironment().chaos_clock_skew_s)
    from jobs.__main__ import main

    main()

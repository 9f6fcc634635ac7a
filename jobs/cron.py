"""Cron schedules: declared here, run by every worker, each tick enqueued exactly once.

A tick is claimed with `SET jobsvc:cron:{name}:{tick} NX`; whichever worker wins enqueues
the job under the id `cron:{name}:{tick}`, so N workers never run a tick twice.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.cron import next_cron

from jobs.registry import JobSpec

CronField = int | set[int] | None


@dataclass(frozen=True, slots=True)
class Schedule:
    job: str
    month: CronField = None
    day: CronField = None
    weekday: CronField = None
    hour: CronField = None
    minute: CronField = None
    second: CronField = 0
    payload: dict[str, Any] = field(default_factory=dict)

    def next_after(self, moment: datetime) -> datetime:
        return next_cron(
            moment,
            month=self.month,
            day=self.day,
            weekday=self.weekday,
            hour=self.hour,
            minute=self.minute,
            second=self.second,
            microsecond=0,
        )

    def describe(self) -> str:
        parts = (self.second, self.minute, self.hour, self.day, self.month, self.weekday)
        return " ".join("*" if p is None else ",".join(map(str, sorted(_set(p)))) for p in parts)


def _set(value: int | set[int]) -> set[int]:
    return value if isinstance(value, set) else {value}


SCHEDULES: list[Schedule] = []


def schedule(job: str, **when: Any) -> Schedule:
    """Declare a schedule, e.g. `schedule("cleanup_job_records", hour=3, minute=0)`."""
    entry = Schedule(job, **when)
    SCHEDULES.append(entry)
    return entry


def schedules_for(catalog: dict[str, JobSpec]) -> list[Schedule]:
    return [s for s in SCHEDULES if s.job in catalog]


# --- the shipped schedules (times in UTC) -------------------------------------------------
schedule("cleanup_job_records", minute={5, 35}, second=0)
schedule("heartbeat_report", minute=None, second=0)

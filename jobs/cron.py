"""Cron schedules: declared here, run by every worker, each tick enqueued exactly once.

Every worker runs the scheduler; a tick is enqueued under the id `cron:{schedule}:{tick ms}` by
one script call that also records the tick (`jobsvc:cron:{schedule}:{tick ms}`), so N workers
never run a tick twice and a crash cannot claim a tick without enqueueing it. Each schedule has
a name (its job's name, or `{job}.{n}` for the n-th further schedule of the same job), so two
schedules of one job firing in the same second are two ticks.
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
    name: str = ""
    """Unique among schedules; empty means the job's name."""

    @property
    def key(self) -> str:
        return self.name or self.job

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


def schedule(job: str, *, name: str = "", **when: Any) -> Schedule:
    """Declare a schedule, e.g. `schedule("cleanup_job_records", hour=3, minute=0)`."""
    if not name:
        same_job = sum(1 for s in SCHEDULES if s.job == job)
        name = job if same_job == 0 else f"{job}.{same_job + 1}"
    if any(s.key == name for s in SCHEDULES):
        raise ValueError(f"two cron schedules are named {name!r}")
    entry = Schedule(job, name=name, **when)
    SCHEDULES.append(entry)
    return entry


class UnknownScheduledJob(LookupError):
    """A cron schedule names a job that is not declared (a typo would otherwise never run)."""


def schedules_for(catalog: dict[str, JobSpec]) -> list[Schedule]:
    """The declared schedules; one naming an undeclared job stops the process at start."""
    unknown = [s for s in SCHEDULES if s.job not in catalog]
    if unknown:
        names = ", ".join(f"{s.key!r} (job {s.job!r})" for s in unknown)
        raise UnknownScheduledJob(f"cron schedules name undeclared jobs: {names}")
    return list(SCHEDULES)


# --- the shipped schedules (times in UTC) -------------------------------------------------
schedule("cleanup_job_records", minute={5, 35}, second=0)
schedule("heartbeat_report", minute=None, second=0)

"""Cron schedules, written as people write crontab lines, run by every worker, once per tick.

    schedule("cleanup_old_exports", "5,35 * * * *")                     # minute 5 and 35, UTC
    schedule("send_report", "0 9 * * MON-FRI", tz="Europe/Berlin", name="report.morning",
             payload={"title": "daily"}, missed="run_once")
    schedule("heartbeat", "* * * * * */15")                             # every 15 seconds

Five fields (minute hour day month weekday), as in crontab(5); an optional **sixth field is
seconds, last** (croniter's convention). Times are in the schedule's `tz` (default UTC),
DST-correct: a time skipped by the clock moving forward runs when the gap ends; a fixed time in
the hour repeated when it moves back runs once (an hourly or finer schedule runs in both).
Parsing and iteration are croniter's.

Every worker runs the scheduler; a tick is enqueued under the id `cron:{name}:{tick ms}` by one
script call that also records the tick, so N workers never run a tick twice. Each schedule has a
name (the job's, or `{job}.{n}` for the n-th further schedule of that job; any name you give):
pause, resume and run-now address it. `missed`: "skip" (the default: ticks that passed while no
worker ran are dropped) or "run_once" (a worker that starts after missed ticks enqueues the
latest of them once).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from jobs.declare.registry import JobSpec

Missed = Literal["skip", "run_once"]
Overlap = Literal["allow", "skip"]
MAX_EVERY_S = 365 * 24 * 3600.0


class InvalidSchedule(ValueError):
    """A schedule whose cron expression or time zone cannot be read."""


@dataclass(frozen=True, slots=True)
class Schedule:
    job: str
    cron: str = "* * * * *"
    tz: str = "UTC"
    payload: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    """Unique among schedules; empty means the job's name."""
    missed: Missed = "skip"
    housekeeping: bool = False
    """The service's own (`HOUSEKEEPING`), not the application's (`CRON_ENABLED`)."""
    every: float | None = None
    """Seconds between ticks, instead of `cron`: ticks fall on multiples of it since the Unix
    epoch, so every worker computes the same ones."""
    overlap: Overlap = "allow"
    """"skip": a tick whose previous run is not final yet enqueues nothing."""
    revision: int = 0
    """A schedule made over the API: its version (`jobs.cron.stored`); 0 for one in code."""
    paused: bool = False
    """Made over the API paused (one in code is paused in `CRON_PAUSED`)."""

    def __post_init__(self) -> None:
        if self.every is not None:
            if not 1 <= self.every <= MAX_EVERY_S:
                raise InvalidSchedule(
                    f"schedule {self.key!r}: every must be 1 s to 365 days, not {self.every:g}"
                )
        elif not croniter.is_valid(self.cron):
            raise InvalidSchedule(f"schedule {self.key!r}: {self.cron!r} is not a cron expression")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidSchedule(f"schedule {self.key!r}: unknown time zone {self.tz!r}") from None

    @property
    def key(self) -> str:
        return self.name or self.job

    @property
    def from_api(self) -> bool:
        return self.revision > 0

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after `moment` (an aware datetime), in UTC."""
        if self.every is not None:
            step = round(self.every * 1000)
            return _at_ms((_ms(moment) // step + 1) * step)
        tz = ZoneInfo(self.tz)
        ticks = croniter(self.cron, moment.astimezone(tz))
        while True:
            tick: datetime = ticks.get_next(datetime)
            # The hour the clock repeats when it moves back: a fixed time runs once.
            if tick.fold and not self._hourly():
                continue
            return tick.astimezone(UTC)

    def previous_before(self, moment: datetime) -> datetime:
        """The last tick at or before `moment`, in UTC (for missed ticks)."""
        if self.every is not None:
            step = round(self.every * 1000)
            return _at_ms(_ms(moment) // step * step)
        tz = ZoneInfo(self.tz)
        tick: datetime = croniter(self.cron, moment.astimezone(tz)).get_prev(datetime)
        return tick.astimezone(UTC)

    def _hourly(self) -> bool:
        hour = self.cron.split()[1]
        return hour.startswith("*")

    def describe(self) -> str:
        if self.every is not None:
            return f"every {self.every:g} s"
        return f"{self.cron} ({self.tz})"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _at_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


SCHEDULES: list[Schedule] = []


def schedule(
    job: str,
    cron: str = "* * * * *",
    *,
    tz: str = "UTC",
    name: str = "",
    payload: dict[str, Any] | None = None,
    missed: Missed = "skip",
) -> Schedule:
    """Declare a schedule of `job` (see the module's doc for the expression)."""
    if not name:
        same_job = sum(1 for s in SCHEDULES if s.job == job)
        name = job if same_job == 0 else f"{job}.{same_job + 1}"
    if any(s.key == name for s in SCHEDULES):
        raise ValueError(f"two cron schedules are named {name!r}")
    entry = Schedule(job, cron, tz, payload or {}, name, missed)
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


def housekeeping_schedule(job: str, cron: str) -> Schedule:
    """A schedule of the service's own upkeep: on unless `HOUSEKEEPING=false`, whatever
    `CRON_ENABLED` says about the application's schedules."""
    if any(s.key == job for s in SCHEDULES):
        raise ValueError(f"two cron schedules are named {job!r}")
    entry = Schedule(job, cron, name=job, housekeeping=True)
    SCHEDULES.append(entry)
    return entry


def enabled(schedules: list[Schedule], *, housekeeping: bool, application: bool) -> list[Schedule]:
    """The schedules a worker runs: its housekeeping and the application's, each if on."""
    return [s for s in schedules if (housekeeping if s.housekeeping else application)]

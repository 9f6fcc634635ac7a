"""An example cron job: `heartbeat_report`, every minute (the service's own upkeep is
`jobs.cron.housekeeping`)."""

from jobs.cron.housekeeping import Nothing
from jobs.cron.schedules import schedule
from jobs.declare.context import JobContext
from jobs.declare.models import Model
from jobs.declare.registry import job
from jobs.layout import keys
from jobs.worker import heartbeat


class HeartbeatReport(Model):
    workers: int
    queued: int


@job(max_tries=1)
async def heartbeat_report(ctx: JobContext, payload: Nothing) -> HeartbeatReport:
    """A once-a-minute record of live workers and queue depth (proves cron runs)."""
    workers = await heartbeat.live_workers(ctx.redis)
    queued = await ctx.redis.zcard(keys.queue(ctx.settings.queue_name).due)
    return HeartbeatReport(workers=len(workers), queued=queued)


schedule("heartbeat_report", "* * * * *")

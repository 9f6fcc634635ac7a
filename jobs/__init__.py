"""Background jobs: declare them, enqueue them, run them.

The public API, for job modules and for code that enqueues:

    from jobs import JobContext, job

    @job(max_tries=5, timeout=30)
    async def send_email(ctx: JobContext, payload: SendEmail) -> EmailSent: ...

Inside, one folder per concept: `declare` (the catalog), `layout` (the only code that knows
Redis), `enqueue`, `worker`, `flow` (flow control), `graph` (dependencies, workflows, batches),
`webhooks`, `reading` (what the API shows), `cron`; `tasks` holds the shipped jobs. `jobs`
never imports `service`: the worker runs without the web process.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.client import (
        InvalidJobInput,
        JobAbortedError,
        JobClient,
        JobClientError,
        JobFailedError,
        JobHandle,
        JobNotFound,
    )
    from jobs.cron.schedules import schedule
    from jobs.declare.context import JobContext, SyncJobContext
    from jobs.declare.job_errors import JobFailed
    from jobs.declare.models import Model
    from jobs.declare.queues import UnknownQueue
    from jobs.declare.registry import job
    from jobs.declare.worker_lifespan import worker_lifespan
    from jobs.enqueue.plan import UnknownJobName
    from jobs.graph.batches import create_batch
    from jobs.graph.workflow_commit import enqueue_workflow
    from jobs.graph.workflows import InvalidWorkflow, Workflow, chain, chord, group, task
    from jobs.layout.connection import create_redis
    from jobs.webhooks.attach import attach_webhook
    from jobs.webhooks.signing import verify_signature

_HOME = {
    "InvalidJobInput": "jobs.client",
    "InvalidWorkflow": "jobs.graph.workflows",
    "JobAbortedError": "jobs.client",
    "JobClient": "jobs.client",
    "JobClientError": "jobs.client",
    "JobContext": "jobs.declare.context",
    "JobFailed": "jobs.declare.job_errors",
    "JobFailedError": "jobs.client",
    "JobHandle": "jobs.client",
    "JobNotFound": "jobs.client",
    "Model": "jobs.declare.models",
    "SyncJobContext": "jobs.declare.context",
    "UnknownJobName": "jobs.enqueue.plan",
    "UnknownQueue": "jobs.declare.queues",
    "Workflow": "jobs.graph.workflows",
    "attach_webhook": "jobs.webhooks.attach",
    "chain": "jobs.graph.workflows",
    "chord": "jobs.graph.workflows",
    "create_batch": "jobs.graph.batches",
    "create_redis": "jobs.layout.connection",
    "enqueue_workflow": "jobs.graph.workflow_commit",
    "group": "jobs.graph.workflows",
    "job": "jobs.declare.registry",
    "schedule": "jobs.cron.schedules",
    "task": "jobs.graph.workflows",
    "verify_signature": "jobs.webhooks.signing",
    "worker_lifespan": "jobs.declare.worker_lifespan",
}
"""Where each public name lives: imported on first use, so that importing one part of `jobs`
(the worker, the layout) does not import every other part."""


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'jobs' has no attribute {name!r}")


__all__ = [
    "InvalidJobInput",
    "InvalidWorkflow",
    "JobAbortedError",
    "JobClient",
    "JobClientError",
    "JobContext",
    "JobFailed",
    "JobFailedError",
    "JobHandle",
    "JobNotFound",
    "Model",
    "SyncJobContext",
    "UnknownJobName",
    "UnknownQueue",
    "Workflow",
    "attach_webhook",
    "chain",
    "chord",
    "create_batch",
    "create_redis",
    "enqueue_workflow",
    "group",
    "job",
    "schedule",
    "task",
    "verify_signature",
    "worker_lifespan",
]

"""The shipped jobs, one module per domain. Importing this package declares them all."""

from jobs.tasks import batch, email, maintenance, ping, reports

__all__ = ["batch", "email", "maintenance", "ping", "reports"]

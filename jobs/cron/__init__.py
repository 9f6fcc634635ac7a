"""Cron: schedules declared in code, and the runner every worker runs."""

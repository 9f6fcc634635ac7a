"""Reading jobs for the API: one job, listings, queues, failed, stats, changes."""

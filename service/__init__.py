"""The web process: HTTP API, dashboard and metrics over the job catalog in `jobs`."""

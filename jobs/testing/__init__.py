"""A test kit for apps that use the job service: a pytest plugin (`jobs.testing.plugin`,
registered by the package's `pytest11` entry point) and `drain`, which runs queued jobs in the
test's own process."""

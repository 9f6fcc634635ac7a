"""Job modules the tests load by name (`job_modules=[...]` in settings, `JOB_MODULES` in a
process's environment): small jobs that record what they did where a test can read it."""

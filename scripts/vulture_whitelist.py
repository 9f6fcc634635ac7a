"""Names vulture (`make lint`) takes for dead code that something outside our own calls reads:
pydantic fields of response models (serialised, never read in Python), ARQ's `WorkerSettings`
attributes (read by `arq --check`), module `__getattr__` hooks, logging's class switches, the
fields of a script row (read by the Lua), and the README's examples that tests define.

Regenerate with `vulture --make-whitelist > scripts/vulture_whitelist.py` after a review of
what it lists: an entry here is a claim that the name is used by something vulture cannot see.
"""
# ruff: noqa: B018, F821

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

_.ssl_cert_reqs  # unused attribute (jobs/layout/connection.py:271)
_.ssl_ca_certs  # unused attribute (jobs/layout/connection.py:273)
_.priorities  # unused property (jobs/layout/keys.py:86)
_.sequence  # unused property (jobs/layout/keys.py:91)
unique_ttl_ms  # unused variable (jobs/layout/script_rows.py:25)
lock_mode  # unused variable (jobs/layout/script_rows.py:26)
_._srcfile  # unused attribute (jobs/logs.py:242)
_.logMultiprocessing  # unused attribute (jobs/logs.py:243)
_.logProcesses  # unused attribute (jobs/logs.py:243)
_.logThreads  # unused attribute (jobs/logs.py:243)
waiting_until  # unused variable (jobs/reading/job_record.py:81)
index_removed  # unused variable (jobs/tasks/maintenance.py:18)
failed_removed  # unused variable (jobs/tasks/maintenance.py:19)
aborts_removed  # unused variable (jobs/tasks/maintenance.py:20)
mean  # unused variable (jobs/tasks/reports.py:21)
minimum  # unused variable (jobs/tasks/reports.py:23)
maximum  # unused variable (jobs/tasks/reports.py:24)
stdev  # unused variable (jobs/tasks/reports.py:25)
duration_count  # unused variable (jobs/webhooks/signing.py:191)
__getattr__  # unused function (jobs/worker/__init__.py:10)
functions  # unused variable (jobs/worker/arq_check.py:23)
job_serializer  # unused variable (jobs/worker/arq_check.py:26)
job_deserializer  # unused variable (jobs/worker/arq_check.py:27)
health_check_key  # unused variable (jobs/worker/arq_check.py:28)
_.KILL_WAIT  # unused attribute (scripts/run.py:40)
created_at  # unused variable (service/routes/batches.py:63)
_.__signature__  # unused attribute (service/routes/enqueue.py:262)
next_admission  # unused variable (service/routes/limits.py:33)
next_check  # unused variable (service/routes/limits.py:35)
heartbeat_age_s  # unused variable (service/routes/stats.py:21)
mean_duration_s  # unused variable (service/routes/stats.py:36)
input_schema  # unused variable (service/schemas.py:67)
output_schema  # unused variable (service/schemas.py:68)
freshest_heartbeat_s  # unused variable (service/schemas.py:85)
web_concurrency  # unused variable (settings.py:37)
customer_id  # unused variable (tests/jobs/test_flow_declarations.py:17)
hello  # unused function (tests/service/test_embed.py:20)
shop  # unused function (tests/service/test_security_headers.py: a host app's route)
evicting  # unused variable (tests/service/test_eviction.py:39)
confirmation_job  # unused variable (tests/service/test_own_routes.py:26)
place_order  # unused function (tests/service/test_own_routes.py:32)
option_kwargs  # the typed overload of JobClient.enqueue (jobs/client.py)
pytest_configure  # jobs/testing/plugin.py: a pytest hook
updated_at  # a schedule's audit field (jobs/cron/stored.py, service/routes/schedules.py)
last_job_id  # service/routes/schedules.py: the API's field
waiting_for_signal  # jobs/reading/job_record.py: the JobView's field
tenant  # tests/support/jobs/secret_jobs.py: the concurrency and rate key, named as a string

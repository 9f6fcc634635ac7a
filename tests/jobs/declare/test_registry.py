"""The catalog: every module of jobs.tasks and of JOB_MODULES; a broken one stops the start."""

import pytest

from jobs.declare.registry import JobModuleError, load_catalog
from jobs.worker.loop import Worker
from service.main import create_app
from settings import Settings


def test_every_module_of_jobs_tasks_is_loaded(settings: Settings) -> None:
    catalog = load_catalog(settings)
    assert {"ping", "send_email", "generate_report", "process_batch"} <= set(catalog)
    assert {"always_permanent", "too_slow"} <= set(catalog)  # from JOB_MODULES


@pytest.mark.parametrize(
    "module", ["tests.support.jobs.no_such_module", "tests.support.jobs.broken_jobs"]
)
def test_a_job_module_that_fails_to_import_stops_worker_and_web(
    settings: Settings, module: str
) -> None:
    broken = settings.model_copy(update={"job_modules": [*settings.job_modules, module]})
    with pytest.raises(JobModuleError, match=module):
        Worker(broken, burst=True, handle_signals=False)
    with pytest.raises(JobModuleError, match=module):
        create_app(broken)

"""The example jobs (`jobs.tasks`) and their schedule load only with `EXAMPLES`; the service's
own housekeeping is there either way, and `CRON_ENABLED` leaves it alone.

The catalog is process-wide (the suite runs with the examples on), so the catalog of a
deployment without them is read in a fresh interpreter."""

import json
import subprocess
import sys

from jobs.cron.schedules import Schedule, enabled
from tests.support.wheel import ROOT

CATALOG = """
import json
from jobs.cron.schedules import schedules_for
from jobs.declare.registry import load_catalog
from jobs.settings import Settings

catalog = load_catalog(Settings(examples={examples}, job_modules=[]))
public = sorted(name for name, spec in catalog.items() if not spec.internal)
cron = sorted(s.key for s in schedules_for(catalog))
print(json.dumps({{"public": public, "all": sorted(catalog), "cron": cron}}))
"""


def _catalog(examples: bool) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", CATALOG.format(examples=examples)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout)
    return loaded


def test_without_examples_a_deployment_has_no_demo_jobs_and_keeps_its_housekeeping() -> None:
    catalog = _catalog(examples=False)
    assert catalog["public"] == []  # nothing to enqueue over HTTP but the app's own jobs
    assert "cleanup_job_records" in catalog["all"]
    assert not {"ping", "send_email", "heartbeat_report"} & set(catalog["all"])
    assert catalog["cron"] == ["cleanup_job_records"]


def test_with_examples_the_demo_jobs_and_their_schedule_load() -> None:
    catalog = _catalog(examples=True)
    assert {"ping", "send_email", "heartbeat_report"} <= set(catalog["public"])
    assert "cleanup_job_records" not in catalog["public"]  # internal: not the form's default
    assert catalog["cron"] == ["cleanup_job_records", "heartbeat_report"]


def test_cron_enabled_governs_the_application_schedules_and_housekeeping_its_own() -> None:
    own = Schedule("cleanup_job_records", "5,35 * * * *", housekeeping=True)
    app = Schedule("send_report", "0 9 * * *")
    both = [own, app]
    assert enabled(both, housekeeping=True, application=False) == [own]
    assert enabled(both, housekeeping=False, application=True) == [app]
    assert enabled(both, housekeeping=True, application=True) == both
    assert enabled(both, housekeeping=False, application=False) == []

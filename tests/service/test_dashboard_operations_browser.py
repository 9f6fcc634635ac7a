"""The operator's console in headless Chromium (issues 20 and 22): find jobs by id prefix, name,
queue, status and enqueue time; abort and retry every job a filter finds after a counted
confirmation; a job's page with its trace (a link, TRACE_URL_TEMPLATE), durable steps and the
signal it waits for; a workflow's graph with its retry button and a batch's progress; schedules
created, edited, paused and deleted at runtime.

Against a web process and a worker of their own, with tracing on (an OTLP receiver of this
module) and `TRACE_URL_TEMPLATE` set. Every page records Content Security Policy violations and
each test ends with none. Screenshots go to tests/artifacts/.
"""

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.service.conftest import start_stack
from tests.service.test_dashboard_browser import ARGS, ARTIFACTS, enqueue
from tests.service.test_dashboard_csp_browser import RECORD_VIOLATIONS
from tests.support.browser import chromium_or_skip
from tests.support.otlp_receiver import OtlpReceiver, otlp_receiver
from tests.support.processes import Stack
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.browser

TRACE_URL = "http://jaeger.example:16686/trace/{trace_id}"
QUEUE = "other"  # declared in tests.support.queues


@pytest.fixture(scope="module")
def chromium() -> str:
    """Looked up before any process starts (module scope, named first below)."""
    return chromium_or_skip()


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def live_stack(chromium: str, redis_url: str, otlp: OtlpReceiver) -> Iterator[Stack]:
    """This module's own stack: the step jobs too, tracing on, a trace URL template."""
    yield from start_stack(
        redis_url,
        JOB_MODULES="tests.support.jobs.sample_jobs,tests.support.jobs.flow_jobs,"
        "tests.support.jobs.step_jobs",
        QUEUES=QUEUE,
        WORKER_QUEUES="*",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="50",
        TRACE_URL_TEMPLATE=TRACE_URL,
    )


@pytest.fixture
def page(chromium: str, live_stack: Stack) -> Iterator[Page]:
    """A dashboard page logged in with the API key, in UTC (the time filters are local
    time); it ends the test with no CSP violation."""
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(
            base_url=live_stack.url,
            http_credentials={"username": "operator", "password": live_stack.api_key},
            viewport={"width": 1280, "height": 1100},
            timezone_id="UTC",
        )
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto("/dashboard/")
        expect(page.locator("#connection")).to_contain_text("updated")
        yield page
        violations = page.evaluate("window.cspViolations")
        assert violations + [m for m in console if "Content Security Policy" in m] == []
        browser.close()


def auth(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.api_key}"}


def api_enqueue(
    request: APIRequestContext, stack: Stack, job: str, payload: Any, queue: str | None = None
) -> dict[str, Any]:
    path = f"/jobs/{job}" + (f"?queue={queue}" if queue else "")
    answer = request.post(path, data=payload, headers=auth(stack))
    assert answer.status == 202, answer.text()
    view: dict[str, Any] = answer.json()
    return view


def local_input(iso: str) -> str:
    """An API time as a `datetime-local` input takes it (the page runs in UTC)."""
    return datetime.fromisoformat(iso).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]


def row_of(page: Page, job_id: str) -> Locator:
    return page.locator(f'#jobs tr[data-job-id="{job_id}"]')


SHOWS = """ids => JSON.stringify([...document.querySelectorAll("#jobs tr[data-job-id]")]
  .map((row) => row.dataset.jobId).sort()) === JSON.stringify(ids)"""


def expect_listed(page: Page, ids: list[str]) -> None:
    """Wait until the list shows exactly `ids` (the page polls; a search answers soon)."""
    try:
        page.wait_for_function(SHOWS, arg=sorted(ids), timeout=10_000)
    except PlaywrightTimeout:
        shown = page.locator("#jobs tr[data-job-id]").evaluate_all(
            "rows => rows.map(row => row.dataset.jobId)"
        )
        raise AssertionError(f"the list shows {shown}, not {ids}") from None


def test_jobs_are_found_by_id_prefix_name_queue_status_and_time(
    page: Page, live_stack: Stack
) -> None:
    first = api_enqueue(page.request, live_stack, "ping", {"message": "first"})
    second = api_enqueue(page.request, live_stack, "ping", {"message": "second"}, queue=QUEUE)
    failing = api_enqueue(page.request, live_stack, "always_permanent", {})
    assert first["enqueued_at"] < second["enqueued_at"]

    page.fill("#filter-id", second["id"][:3])  # too short: said, not sent
    expect(page.locator("#list-error")).to_contain_text("4 characters")
    page.fill("#filter-id", second["id"][:8])
    expect_listed(page, [second["id"]])
    expect(row_of(page, second["id"])).to_contain_text(QUEUE)
    expect(page.locator("#list-error")).to_have_text("")

    page.click("#search-clear")
    page.select_option("#filter-name", "ping")
    page.select_option("#filter-queue", QUEUE)  # offered once /queues knows it
    expect_listed(page, [second["id"]])

    page.click("#search-clear")
    page.select_option("#filter-name", "always_permanent")
    page.select_option("#filter-status", "failed")
    expect_listed(page, [failing["id"]])
    expect(row_of(page, failing["id"])).to_have_attribute("data-status", "failed")

    page.click("#search-clear")
    page.select_option("#filter-name", "ping")
    page.fill("#filter-after", local_input(second["enqueued_at"]))  # from it on: it alone
    expect_listed(page, [second["id"]])
    page.fill("#filter-after", "")
    page.fill("#filter-before", local_input(second["enqueued_at"]))  # before it: the first
    expect(row_of(page, first["id"])).to_be_visible()
    expect(row_of(page, second["id"])).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "dashboard-search.png"), full_page=True)

    row_of(page, first["id"]).click()  # a row opens its job
    expect(page.locator("#detail-id")).to_have_text(first["id"])


def test_jobs_are_aborted_then_retried_by_filter_after_a_counted_confirmation(
    page: Page, live_stack: Stack
) -> None:
    paused = page.request.post(f"/queues/{QUEUE}/pause", headers=auth(live_stack))
    assert paused.status == 204, paused.text()
    held = [
        api_enqueue(page.request, live_stack, "ping", {"message": f"held {i}"}, queue=QUEUE)["id"]
        for i in range(3)
    ]
    elsewhere = api_enqueue(page.request, live_stack, "ping", {"message": "default queue"})
    rows = page.locator("#jobs tr[data-job-id]")
    result = page.locator("#bulk-result")

    page.click("#abort-matching")  # no criterion: refused before any call
    expect(result).to_contain_text("choose a queue, name, status or time first")

    page.select_option("#filter-queue", QUEUE)
    page.select_option("#filter-status", "queued")
    expect_listed(page, held)
    page.click("#abort-matching")
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text(
        f"Abort 3 jobs? (status queued, queue {QUEUE})"
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-abort-by-filter.png"), full_page=True)
    page.click("#confirm-no")  # cancelled: nothing changes
    expect(result).to_have_text("nothing done")
    expect_listed(page, held)

    page.click("#abort-matching")
    page.click("#confirm-yes")
    expect(result).to_have_attribute("data-count", "3")
    expect(result).to_have_text("3 jobs aborted")
    page.select_option("#filter-status", "aborted")
    expect_listed(page, held)
    for job_id in held:
        expect(row_of(page, job_id)).to_have_attribute("data-status", "aborted")
    job = page.request.get(f"/jobs/{elsewhere['id']}", headers=auth(live_stack)).json()
    assert job["status"] != "aborted"  # another queue: not chosen

    page.select_option("#filter-status", "queued")
    page.click("#retry-matching")  # queued jobs are not retried: said, not sent
    expect(result).to_contain_text("retry takes failed, aborted jobs, not queued")
    page.select_option("#filter-status", "aborted")
    page.click("#retry-matching")
    expect(page.locator("#confirm-text")).to_contain_text("Retry 3 jobs?")
    page.click("#confirm-yes")
    expect(result).to_have_text("3 jobs retried")
    page.select_option("#filter-status", "queued")  # the copies wait in the paused queue
    for job_id in held:
        expect(row_of(page, job_id)).to_have_count(0)
    expect(page.locator('#jobs tr[data-status="queued"]')).to_have_count(3)
    copies = rows.evaluate_all("rows => rows.map(row => row.dataset.jobId)")
    page.select_option("#filter-status", "aborted")  # retried jobs leave the failed registry
    page.click("#abort-matching")
    expect(result).to_contain_text("abort takes queued, deferred, waiting jobs, not aborted")

    resumed = page.request.post(f"/queues/{QUEUE}/resume", headers=auth(live_stack))
    assert resumed.status == 204
    page.select_option("#filter-status", "complete")
    for job_id in copies:  # resumed, the copies run
        expect(row_of(page, job_id)).to_have_attribute("data-status", "complete")


def test_a_job_page_shows_its_trace_steps_and_the_signal_it_waits_for(
    page: Page, live_stack: Stack, otlp: OtlpReceiver
) -> None:
    job_id = enqueue(page, "wait_for_approval")
    expect(page.locator("#detail-status")).to_have_text("waiting")
    fields = page.locator("#detail-fields")
    expect(fields.locator('dd[data-field="waiting for signal"]')).to_contain_text("approved")
    expect(fields.locator('dd[data-field="steps"] li')).to_have_text(["ask"])
    trace_id = fields.locator("[data-trace-id]").get_attribute("data-trace-id") or ""
    assert len(trace_id) == 32 and int(trace_id, 16)
    link = page.locator("#trace-link")
    expect(link).to_have_attribute("href", TRACE_URL.format(trace_id=trace_id))
    expect(link).to_have_attribute("target", "_blank")
    # The id is the trace the enqueue's request began: the receiver holds its spans.
    eventually_sync(lambda: bool(otlp.trace(trace_id)), timeout_s=20)
    view = page.request.get(f"/jobs/{job_id}", headers=auth(live_stack)).json()
    assert view["trace_id"] == trace_id and view["waiting_for_signal"] == "approved"
    page.screenshot(path=str(ARTIFACTS / "dashboard-job-signal.png"), full_page=True)

    page.fill("#signal-body", '{"approved_by": "the operator"}')
    page.click("#signal-send")
    expect(page.locator("#detail-status")).to_have_text("complete")
    expect(page.locator("#detail-outcome")).to_contain_text("the operator")
    expect(page.locator("#signal")).to_be_hidden()
    page.reload()  # read from the final record: the trace and the steps are still there
    expect(page.locator("#detail-id")).to_have_text(job_id)
    expect(page.locator("#trace-link")).to_have_attribute(
        "href", TRACE_URL.format(trace_id=trace_id)
    )
    expect(fields.locator('dd[data-field="steps"] li')).to_have_text(["ask"])
    expect(page.locator("#signal")).to_be_hidden()


def test_a_failed_workflow_offers_its_retry_and_a_batch_shows_its_progress(
    page: Page, live_stack: Stack
) -> None:
    nodes = {
        "fetch": {"job": "ping", "input": {"message": "fetch"}},
        "parse": {"job": "always_permanent", "input": {}, "after": ["fetch"]},
        "store": {"job": "ping", "input": {}, "after": ["parse"]},
    }
    created = page.request.post("/workflows", data={"nodes": nodes}, headers=auth(live_stack))
    assert created.status == 202, created.text()
    workflow = created.json()
    page.goto(f"/dashboard/#workflow={workflow['id']}")  # a link shows it
    expect(page.locator("#graph-view")).to_have_attribute("data-status", "failed")
    graph = page.locator("#graph-svg")
    expect(graph.locator('g.node[data-node="fetch"]')).to_have_attribute("data-status", "complete")
    expect(graph.locator('g.node[data-node="parse"]')).to_have_attribute("data-status", "failed")
    expect(graph.locator('g.node[data-node="parse"] rect')).to_have_class("fill-failed")
    expect(graph.locator("path.edge")).to_have_count(2)
    retry = page.locator("#workflow-retry")
    expect(retry).to_be_visible()
    expect(retry).to_be_enabled()
    expect(page.locator("#batch-progress")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "dashboard-workflow-retry.png"), full_page=True)
    retry.click()  # asks first, naming what runs again
    expect(page.locator("#confirm-text")).to_contain_text(
        f"Retry workflow {workflow['id']}? 2 nodes run again (parse, store)"
    )
    page.click("#confirm-no")
    expect(page.locator("#graph-view")).to_have_attribute("data-status", "failed")
    retry.click()  # now for real: parse and store run again as new jobs, fetch is kept
    page.click("#confirm-yes")
    first = {key: node["job_id"] for key, node in workflow["nodes"].items()}

    def rerun() -> dict[str, Any]:
        view: dict[str, Any] = page.request.get(
            f"/workflows/{workflow['id']}", headers=auth(live_stack)
        ).json()
        return view

    eventually_sync(lambda: rerun()["nodes"]["parse"]["job_id"] != first["parse"], timeout_s=30)
    again = rerun()
    assert again["nodes"]["fetch"]["job_id"] == first["fetch"]
    assert again["nodes"]["store"]["job_id"] != first["store"]
    expect(page.locator("#graph-view")).to_have_attribute(
        "data-status", re.compile("running|failed")
    )
    # The page shows the rerun graph (its retry re-reads it) before a node is clicked.
    rerun_row = page.locator('#graph-nodes tr[data-node="parse"]')
    expect(rerun_row).to_contain_text(again["nodes"]["parse"]["job_id"])
    graph.locator('g.node[data-node="parse"]').click()  # a node opens its job: the rerun one
    expect(page.locator("#detail-id")).to_have_text(again["nodes"]["parse"]["job_id"])

    batch = page.request.post(
        "/batches",
        data={
            "jobs": [
                {"job": "ping", "input": {"message": "one"}},
                {"job": "ping", "input": {"message": "two"}},
                {"job": "always_permanent", "input": {}},
            ]
        },
        headers=auth(live_stack),
    )
    assert batch.status == 202, batch.text()
    page.select_option("#graph-kind", "batches")
    page.fill("#graph-id", batch.json()["id"])
    page.click("#graph-show")
    progress = page.locator("#batch-progress")
    expect(progress).to_have_attribute("data-done", "3")
    expect(progress).to_have_attribute("data-failed", "1")
    expect(progress).to_have_attribute("data-total", "3")
    expect(page.locator("#batch-figures")).to_have_text("3/3 done: 2 complete, 1 failed, 0 aborted")
    done_width = page.locator("#batch-done").evaluate("bar => bar.style.width")
    assert done_width.startswith("66.6")
    expect(page.locator("#workflow-retry")).to_be_hidden()  # a batch has no retry
    page.screenshot(path=str(ARTIFACTS / "dashboard-batch.png"), full_page=True)


def test_schedules_are_created_edited_paused_and_deleted_at_runtime(
    page: Page, live_stack: Stack
) -> None:
    name = "dash-nightly"
    row = page.locator(f'#schedules tr[data-schedule="{name}"]')
    page.fill("#schedule-name", name)
    page.select_option("#schedule-job", "ping")
    page.fill("#schedule-cron", "0 3 * * *")
    page.fill("#schedule-every", "60")  # both timings: the API refuses, the page says why
    page.fill("#schedule-input", '{"message": "nightly"}')
    page.click("#schedule-save")
    expect(page.locator("#schedule-error")).to_contain_text("422")
    expect(row).to_have_count(0)
    page.fill("#schedule-every", "")
    page.click("#schedule-save")
    expect(page.locator("#schedule-saved")).to_contain_text(f"saved {name} (revision 1)")
    expect(row).to_have_attribute("data-source", "api")
    expect(row).to_contain_text("0 3 * * * UTC")
    expect(row).to_contain_text("rev 1")

    row.locator("button.schedule-edit").click()  # the form takes the schedule, to change it
    expect(page.locator("#schedule-cron")).to_have_value("0 3 * * *")
    expect(page.locator("#schedule-input")).to_have_value('{"message":"nightly"}')
    page.fill("#schedule-cron", "")
    page.fill("#schedule-every", "3600")
    page.select_option("#schedule-overlap", "skip")
    page.click("#schedule-save")
    expect(row).to_contain_text("every 3600 s")
    expect(row).to_contain_text("no overlap")
    expect(row).to_contain_text("rev 2")

    row.locator("button.schedule-pause").click()
    expect(row).to_have_attribute("data-paused", "true")
    expect(row.locator("td.next-run")).to_have_text("–")
    stored = page.request.get(f"/schedules/{name}", headers=auth(live_stack)).json()
    assert stored["paused"] is True and stored["every"] == 3600 and stored["revision"] == 3
    assert stored["input"] == {"message": "nightly"}
    page.screenshot(path=str(ARTIFACTS / "dashboard-schedules.png"), full_page=True)
    row.locator("button.schedule-resume").click()
    expect(row).to_have_attribute("data-paused", "false")

    code = page.locator('#schedules tr[data-schedule="heartbeat_report"]')
    expect(code).to_contain_text("declared in code")
    expect(code.locator("button.schedule-delete")).to_have_count(0)

    row.locator("button.schedule-delete").click()
    expect(page.locator("#confirm-text")).to_contain_text(f"Delete schedule {name}?")
    page.click("#confirm-yes")
    expect(row).to_have_count(0)
    gone = page.request.get(f"/schedules/{name}", headers=auth(live_stack))
    assert gone.status == 404

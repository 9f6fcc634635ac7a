"""The dashboard in headless Chromium against the real web and worker processes: enqueue
from the generated form, watch jobs finish live, retry a failed one, abort a running one.

Screenshots go to tests/artifacts/. Without a Chromium binary these tests are skipped, except
on CI (`CI=true`), where they fail: `tests.support.browser`.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.browser import chromium_or_skip
from tests.support.processes import Stack

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> str:
    """Looked up before `live_stack` starts any process (module scope, named first below)."""
    return chromium_or_skip()


@pytest.fixture
def page(chromium: str, live_stack: Stack) -> Iterator[Page]:
    """A dashboard page, logged in through the browser's Basic-auth prompt (the API key)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(
            base_url=live_stack.url,
            http_credentials={"username": "operator", "password": live_stack.api_key},
            viewport={"width": 1280, "height": 1100},
        )
        page = context.new_page()
        page.goto("/dashboard")
        expect(page.locator("#connection")).to_contain_text("updated")
        yield page
        browser.close()


def enqueue(page: Page, job: str, **fields: str) -> str:
    """Fill the generated form and submit it; the new job opens; returns its id."""
    page.select_option("#enqueue-type", job)
    for name, value in fields.items():
        page.fill(f"#enqueue-fields [name={name}]", value)
    previous = page.locator("#detail-id").text_content() or ""
    page.click("#enqueue-submit")
    expect(page.locator("#detail-id")).not_to_have_text(previous)
    return page.locator("#detail-id").text_content() or ""


def test_job_enqueued_from_the_form_is_seen_completing(page: Page) -> None:
    job_id = enqueue(page, "ping", message="hello from the browser")
    expect(page.locator("#detail-status")).to_have_text("complete")
    expect(page.locator("#detail-outcome")).to_contain_text("hello from the browser")
    row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
    expect(row).to_have_attribute("data-status", "complete")
    expect(page.locator("#workers tr")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "dashboard-complete.png"), full_page=True)


def test_failed_job_is_retried_with_its_button(page: Page) -> None:
    failed_id = enqueue(page, "always_permanent")
    expect(page.locator("#detail-status")).to_have_text("failed")
    expect(page.locator("#detail-outcome")).to_contain_text("no point retrying")
    page.click("#retry")
    expect(page.locator("#detail-id")).not_to_have_text(failed_id)
    expect(page.locator("#detail-status")).to_have_text("failed")  # it always fails
    page.select_option("#filter-name", "always_permanent")
    page.select_option("#filter-status", "failed")
    expect(page.locator("#jobs tr[data-job-id]")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "dashboard-retried.png"), full_page=True)


def test_running_job_is_aborted_with_its_button(page: Page) -> None:
    job_id = enqueue(page, "ping", sleep_s="30")
    expect(page.locator("#detail-status")).to_have_text("in_progress")
    page.click("#abort")
    expect(page.locator("#detail-status")).to_have_text("aborted")
    expect(page.locator(f'#jobs tr[data-job-id="{job_id}"]')).to_have_attribute(
        "data-status", "aborted"
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-aborted.png"), full_page=True)


def test_paused_queue_holds_its_jobs_until_resumed_from_the_dashboard(page: Page) -> None:
    queue_row = page.locator('#queues tr[data-queue="arq:queue"]')
    queue_row.locator("button.queue-pause").click()
    expect(queue_row).to_contain_text("paused")
    job_id = enqueue(page, "ping", message="held")
    expect(page.locator("#detail-status")).to_have_text("queued")  # accepted, not started
    queue_row.locator("button.queue-resume").click()
    expect(page.locator("#detail-status")).to_have_text("complete")
    expect(queue_row).not_to_contain_text("paused")
    row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
    expect(row).to_contain_text("arq:queue")
    page.screenshot(path=str(ARTIFACTS / "dashboard-paused.png"), full_page=True)


def test_cron_schedule_is_paused_run_and_resumed_from_the_dashboard(page: Page) -> None:
    row = page.locator('#schedules tr[data-schedule="heartbeat_report"]')
    expect(row).to_have_attribute("data-source", "code")
    expect(row).to_contain_text("* * * * * UTC")
    expect(row.locator("button.schedule-edit")).to_have_count(0)  # declared in code: read-only
    row.locator("button.cron-pause").click()
    expect(row).to_contain_text("paused")
    row.locator("button.cron-run").click()  # enqueues the job now, paused or not
    expect(row.locator("td.last-run")).not_to_have_text("–")
    row.locator("button.cron-resume").click()
    expect(row).not_to_contain_text("paused")
    page.screenshot(path=str(ARTIFACTS / "dashboard-cron.png"), full_page=True)


def test_a_link_opens_its_job_and_the_list_shows_error_and_duration(page: Page) -> None:
    failed_id = enqueue(page, "always_permanent")
    expect(page.locator("#detail-status")).to_have_text("failed")
    assert page.url.endswith(f"#job={failed_id}")  # the detail has a link of its own
    row = page.locator(f'#jobs tr[data-job-id="{failed_id}"]')
    expect(row).to_contain_text("JobFailed: no point retrying")
    expect(row.locator("code")).to_have_text(failed_id)  # the full id
    link = page.url
    page.goto("/dashboard/")  # a fresh page, then the link: the job opens by itself
    page.goto(link)
    page.reload()
    expect(page.locator("#detail-id")).to_have_text(failed_id)


def test_failed_jobs_are_retried_in_bulk_from_the_dashboard(page: Page) -> None:
    enqueue(page, "always_permanent")
    expect(page.locator("#detail-status")).to_have_text("failed")
    page.select_option("#filter-name", "always_permanent")
    page.click("#retry-failed")
    expect(page.locator("#connection")).to_contain_text("retried")
    page.select_option("#filter-status", "failed")
    expect(page.locator("#jobs tr[data-job-id]")).not_to_have_count(0)  # the copy failed too


def test_the_last_hour_is_charted(page: Page) -> None:
    enqueue(page, "ping", message="charted")
    expect(page.locator("#detail-status")).to_have_text("complete")
    # Workers flush their counts about once a second; the page polls every 2 s.
    expect(page.locator("#history")).not_to_have_attribute("data-total", "0", timeout=15_000)
    expect(page.locator("#history rect.bar-ok").first).to_be_attached()


def test_held_jobs_and_limits_are_shown(page: Page) -> None:
    job_types = page.locator("#job-types")
    expect(job_types).to_contain_text("1 at once per customer")
    expect(job_types).to_contain_text("20/s")
    for i in range(3):  # they fill the three slots of `three_at_a_time` for a while
        enqueue(page, "three_at_a_time", label=f"slot {i}", hold_s="20")
        expect(page.locator("#detail-status")).to_have_text("in_progress")
    held_id = enqueue(page, "three_at_a_time", label="held")
    expect(page.locator("#detail-status")).to_have_text("queued")
    expect(page.locator('#detail-fields dd[data-field="waiting for"]')).to_have_text(
        "concurrency (a slot to free)"
    )
    gate = page.locator('#limits tr[data-gate="c:three_at_a_time"]')
    expect(gate.locator("td.running")).to_have_text("3/3")
    expect(gate.locator("td.held")).to_have_text("1")
    expect(page.locator('#queues tr[data-queue="arq:queue"] td.held')).to_have_text("1")
    page.screenshot(path=str(ARTIFACTS / "dashboard-limits.png"), full_page=True)
    page.click("#abort")  # a held job is aborted like any queued one: it never starts
    expect(page.locator("#detail-status")).to_have_text("aborted")
    expect(gate.locator("td.held")).to_have_text("0")
    expect(page.locator(f'#jobs tr[data-job-id="{held_id}"]')).to_have_attribute(
        "data-status", "aborted"
    )


def test_a_job_waiting_for_a_parent_shows_it_and_follows_its_fate(page: Page) -> None:
    parent_id = enqueue(page, "ping", sleep_s="30")
    expect(page.locator("#detail-status")).to_have_text("in_progress")
    page.fill("#enqueue-after", parent_id)
    child_id = enqueue(page, "ping", message="after the parent")
    page.fill("#enqueue-after", "")
    expect(page.locator("#detail-status")).to_have_text("waiting")
    expect(page.locator('#detail-fields dd[data-field="waiting on"]')).to_have_text(
        "1 of 1 not final yet"
    )
    parent_link = page.locator(
        f'#detail-fields dd[data-field="after"] a[data-job-link="{parent_id}"]'
    )
    expect(parent_link).to_have_text(parent_id)
    page.select_option("#filter-status", "waiting")
    row = page.locator(f'#jobs tr[data-job-id="{child_id}"]')
    expect(row).to_have_attribute("data-status", "waiting")
    expect(page.locator("#jobs tr[data-job-id]")).to_have_count(1)
    expect(row.locator(".status-waiting")).to_have_text("waiting")
    page.screenshot(path=str(ARTIFACTS / "dashboard-waiting.png"), full_page=True)
    parent_link.click()  # the parent opens; aborting it fails the child (rule: fail)
    expect(page.locator("#detail-id")).to_have_text(parent_id)
    page.click("#abort")
    expect(page.locator("#detail-status")).to_have_text("aborted")
    page.select_option("#filter-status", "failed")
    row.click()
    expect(page.locator("#detail-id")).to_have_text(child_id)
    expect(page.locator("#detail-status")).to_have_text("failed")
    expect(page.locator("#detail-outcome")).to_contain_text("ParentFailed")
    expect(page.locator("#detail-outcome")).to_contain_text(parent_id)


def test_a_workflow_and_a_batch_are_shown_with_their_jobs_states(
    page: Page, live_stack: Stack
) -> None:
    """A diamond whose one branch fails (the join ignores it), then a batch with on_success:
    looked up by id, each shows its jobs' states as a table and a graph; a node opens its job."""
    nodes = {
        "a": {"job": "ping", "input": {"message": "a"}},
        "b": {"job": "ping", "input": {"message": "b"}, "after": ["a"]},
        "c": {"job": "always_permanent", "input": {}, "after": ["a"]},
        "d": {"job": "ping", "input": {}, "after": ["b", "c"], "on_parent_failure": "ignore"},
    }
    auth = {"Authorization": f"Bearer {live_stack.api_key}"}
    created = page.request.post("/workflows", data={"nodes": nodes}, headers=auth)
    assert created.status == 202, created.text()
    workflow = created.json()
    page.select_option("#graph-kind", "workflows")
    page.fill("#graph-id", workflow["id"])
    page.click("#graph-show")
    expect(page.locator("#graph-view")).to_have_attribute("data-status", "failed")
    rows = page.locator("#graph-nodes tr")
    expect(rows).to_have_count(4)
    expect(page.locator('#graph-nodes tr[data-node="d"]')).to_have_attribute(
        "data-status", "complete"
    )
    expect(page.locator('#graph-nodes tr[data-node="d"]')).to_contain_text("b, c")
    expect(page.locator('#graph-nodes tr[data-node="c"]')).to_contain_text("JobFailed")
    expect(page.locator("#graph-svg g.node")).to_have_count(4)
    expect(page.locator("#graph-svg path.edge")).to_have_count(4)
    expect(page.locator('#graph-svg g.node[data-node="c"]')).to_have_attribute(
        "data-status", "failed"
    )
    assert page.url.endswith(f"#workflow={workflow['id']}")
    page.screenshot(path=str(ARTIFACTS / "dashboard-workflow.png"), full_page=True)
    page.locator('#graph-svg g.node[data-node="c"]').click()
    expect(page.locator("#detail-id")).to_have_text(workflow["nodes"]["c"]["job_id"])
    expect(page.locator("#detail-status")).to_have_text("failed")

    batch = page.request.post(
        "/batches",
        data={
            "jobs": [{"job": "ping", "input": {"message": str(i)}} for i in range(3)],
            "on_success": {"job": "ping", "input": {"message": "all done"}},
        },
        headers=auth,
    )
    assert batch.status == 202, batch.text()
    page.select_option("#graph-kind", "batches")
    page.fill("#graph-id", batch.json()["id"])
    page.click("#graph-show")
    expect(page.locator("#graph-view")).to_have_attribute("data-status", "complete")
    expect(page.locator("#graph-summary")).to_contain_text(
        "3 jobs: 0 pending, 3 complete, 0 failed, 0 aborted"
    )
    expect(page.locator("#graph-nodes tr")).to_have_count(4)
    expect(page.locator('#graph-nodes tr[data-node="on_success"]')).to_have_attribute(
        "data-status", "complete"
    )
    expect(page.locator("#graph-svg path.edge")).to_have_count(3)
    page.fill("#graph-id", "no-such-batch")
    page.click("#graph-show")
    expect(page.locator("#graph-error")).to_contain_text("404")

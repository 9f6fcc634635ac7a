"""The dashboard and the API docs in headless Chromium under their Content Security Policy:
they work and the browser reports no violation (`securitypolicyviolation` events and console
messages); the dashboard with a read-only key shows everything and says why a button fails.
Against the real web and worker processes (`live_stack`)."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.service.test_dashboard_browser import ARGS, enqueue
from tests.support.browser import chromium_or_skip
from tests.support.processes import Stack

pytestmark = pytest.mark.browser

# Every violation the page reports, kept where the test can read it.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class WatchedPage:
    page: Page
    console: list[str]

    def violations(self) -> list[str]:
        reported: list[str] = self.page.evaluate("window.cspViolations")
        return reported + [m for m in self.console if "Content Security Policy" in m]


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


def _context(chromium: str, stack: Stack, key: str) -> Iterator[BrowserContext]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(
            base_url=stack.url,
            http_credentials={"username": "operator", "password": key},
            viewport={"width": 1280, "height": 1100},
        )
        context.add_init_script(RECORD_VIOLATIONS)
        yield context
        browser.close()


def _watched(context: BrowserContext, path: str) -> WatchedPage:
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(path)
    return WatchedPage(page, console)


@pytest.fixture
def operator(chromium: str, live_stack: Stack) -> Iterator[BrowserContext]:
    yield from _context(chromium, live_stack, live_stack.api_key)


@pytest.fixture
def onlooker(chromium: str, live_stack: Stack) -> Iterator[BrowserContext]:
    yield from _context(chromium, live_stack, live_stack.read_key)


def test_the_dashboard_works_under_its_policy_without_a_violation(
    operator: BrowserContext,
) -> None:
    watched = _watched(operator, "/dashboard/")
    page = watched.page
    expect(page.locator("#connection")).to_contain_text("updated")
    job_id = enqueue(page, "ping", message="under a CSP")  # fetch with X-Requested-By
    expect(page.locator("#detail-status")).to_have_text("complete")  # over EventSource
    expect(page.locator(f'#jobs tr[data-job-id="{job_id}"]')).to_have_attribute(
        "data-status", "complete"
    )
    expect(page.locator("#detail-progress-bar")).to_be_attached()  # styled from the script
    queue_row = page.locator('#queues tr[data-queue="arq:queue"]')
    queue_row.locator("button.queue-pause").click()  # a change with the browser's Basic key
    expect(queue_row).to_contain_text("paused")
    queue_row.locator("button.queue-resume").click()
    expect(queue_row).not_to_contain_text("paused")
    expect(page.locator("#history")).to_be_visible()  # the SVG chart
    assert watched.violations() == []


@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".swagger-ui .info"), ("/redoc", "h1")])
def test_the_api_docs_work_under_their_policy(
    operator: BrowserContext, path: str, rendered: str
) -> None:
    """Swagger UI with no violation. ReDoc shows a "by Redocly" logo from cdn.redoc.ly: the
    policy blocks it (the docs make no request to another site), the only violation there."""
    watched = _watched(operator, path)
    # The schema is large (every job's input and output): give the page time to render it.
    expect(watched.page.locator(rendered).first).to_contain_text("Job service", timeout=30_000)
    expect(watched.page.get_by_text("Enqueue ping").last).to_be_visible()
    allowed = [v for v in watched.violations() if "cdn.redoc.ly" not in v]
    assert allowed == []


def test_with_a_read_only_key_the_dashboard_shows_all_and_explains_refusals(
    onlooker: BrowserContext,
) -> None:
    watched = _watched(onlooker, "/dashboard/")
    page = watched.page
    expect(page.locator("#connection")).to_contain_text("updated")
    expect(page.locator('#queues tr[data-queue="arq:queue"]')).to_be_visible()
    page.select_option("#enqueue-type", "ping")
    page.click("#enqueue-submit")
    expect(page.locator("#enqueue-error")).to_contain_text("403: this API key may only read")
    assert watched.violations() == []

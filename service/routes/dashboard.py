"""`GET /dashboard`: the web UI, a static page (no build step) over the JSON API."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse

from jobs.declare.models import Model
from service.deps import SettingsDep
from service.errors import ServiceError

router = APIRouter(include_in_schema=False)

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
SCRIPT = "text/javascript"
ASSETS = {
    # The script is ES modules, one per view (`import` needs a JavaScript content type).
    "app.js": SCRIPT,
    "common.js": SCRIPT,
    "overview.js": SCRIPT,
    "jobs.js": SCRIPT,
    "job.js": SCRIPT,
    "workflows.js": SCRIPT,
    "schedules.js": SCRIPT,
    "enqueue.js": SCRIPT,
    "style.css": "text/css",
    "screenshot.png": "image/png",
}


class AssetNotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


@router.get("/")
async def home() -> RedirectResponse:
    """The root leads to the dashboard (relative, so it holds under a mount prefix too)."""
    return RedirectResponse("dashboard/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/dashboard")
async def dashboard_slash() -> RedirectResponse:
    """The page lives at `dashboard/`: its script and style are relative to it."""
    return RedirectResponse("dashboard/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/dashboard/")
async def dashboard() -> FileResponse:
    """The single page; it talks to the API with the browser's credentials."""
    return FileResponse(DASHBOARD_DIR / "index.html", media_type="text/html")


class DashboardConfig(Model):
    trace_url_template: str | None
    """`TRACE_URL_TEMPLATE`: where a job's trace id links to (None: no link)."""


@router.get("/dashboard/config.json")
async def dashboard_config(settings: SettingsDep) -> DashboardConfig:
    """What the page needs to know of the service's configuration (nothing secret)."""
    return DashboardConfig(trace_url_template=settings.trace_url_template)


@router.get("/dashboard/{asset}")
async def dashboard_asset(asset: Annotated[str, PathParam(max_length=50)]) -> FileResponse:
    """The page's script and style; only the listed files (no path walking)."""
    if asset not in ASSETS:
        raise AssetNotFound(f"no dashboard file {asset!r}")
    return FileResponse(DASHBOARD_DIR / asset, media_type=ASSETS[asset])

"""`/docs` (Swagger UI) and `/redoc`, served with their assets from this process: they work
offline and behind a firewall (the assets ship in the `fastapi-offline` package)."""

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, status
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from service.errors import ServiceError
from service.security_headers import docs_policy

router = APIRouter(include_in_schema=False)

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
TITLE = "Job service"


class DocsAssetNotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with the Content Security Policy its inline start-up script needs."""
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode())
    return page


# Relative URLs: right under a mount prefix too (`/jobsvc/docs` loads `/jobsvc/docs-assets/`).
@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return _with_policy(
        get_swagger_ui_html(
            openapi_url="openapi.json",
            title=f"{TITLE} - Swagger UI",
            swagger_js_url="docs-assets/swagger-ui-bundle.js",
            swagger_css_url="docs-assets/swagger-ui.css",
            swagger_favicon_url="docs-assets/favicon.png",
        )
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return _with_policy(
        get_redoc_html(
            openapi_url="openapi.json",
            title=f"{TITLE} - ReDoc",
            redoc_js_url="docs-assets/redoc.standalone.js",
            redoc_favicon_url="docs-assets/favicon.png",
            with_google_fonts=False,
        )
    )


@router.get("/docs-assets/{asset}")
async def docs_asset(asset: Annotated[str, PathParam(max_length=50)]) -> FileResponse:
    if asset not in ASSETS:
        raise DocsAssetNotFound(f"no docs file {asset!r}")
    path = files("fastapi_offline").joinpath("static", asset)
    return FileResponse(str(path), media_type=ASSETS[asset])

"""The dashboard's files: every module a script imports is served, as JavaScript (a module
script with another content type is refused by the browser), under the page's policy, and
nothing else in the folder is reachable."""

import re

import httpx

from service.routes.dashboard import ASSETS, DASHBOARD_DIR

IMPORT = re.compile(r"""from\s+["']\./([\w.-]+)["']""")


def test_every_module_imported_is_listed_and_every_file_is_served() -> None:
    imported = {
        name for script in DASHBOARD_DIR.glob("*.js") for name in IMPORT.findall(script.read_text())
    }
    assert imported and imported <= set(ASSETS)
    assert {f.name for f in DASHBOARD_DIR.iterdir()} == set(ASSETS) | {"index.html"}


async def test_modules_are_served_as_javascript(client: httpx.AsyncClient) -> None:
    for name, media_type in ASSETS.items():
        answer = await client.get(f"/dashboard/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(media_type)
        assert answer.headers["x-content-type-options"] == "nosniff"
    missing = await client.get("/dashboard/other.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

"""Reading JobViews from a running web process, the way a user would."""

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx

from tests.support.waiting import eventually


class JobsApi:
    """Reads JobViews from a running web process."""

    def __init__(self, base_url: str, concurrency: int = 16) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=10,
            limits=httpx.Limits(max_connections=concurrency),
        )
        self._slots = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> "JobsApi":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, job_id: str) -> httpx.Response:
        async with self._slots:
            return await self.client.get(f"/jobs/{job_id}")

    async def view(self, job_id: str) -> dict[str, Any]:
        response = await self.get(job_id)
        assert response.status_code == 200, (job_id, response.status_code, response.text)
        view: dict[str, Any] = response.json()
        return view

    async def wait_status(self, job_id: str, status: str, timeout_s: float = 30) -> dict[str, Any]:
        """The job's view once its status is `status`."""
        return await self._until(f"/jobs/{job_id}", status, timeout_s)

    async def wait_workflow(
        self, workflow_id: str, status: str, timeout_s: float = 30
    ) -> dict[str, Any]:
        """The workflow's view once its status is `status`."""
        return await self._until(f"/workflows/{workflow_id}", status, timeout_s)

    async def _until(self, path: str, status: str, timeout_s: float) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            seen.update((await self.client.get(path)).json())
            return seen.get("status") == status

        try:
            await eventually(reached, timeout_s=timeout_s, interval_s=0.05)
        except AssertionError:
            raise AssertionError(f"{path} is not {status}: {seen}") from None
        return seen

    async def views(self, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """`GET /jobs/{id}` for each (a few ms each: for thousands, `listed` is cheaper)."""
        ids = list(job_ids)
        found = await asyncio.gather(*(self.view(job_id) for job_id in ids))
        return dict(zip(ids, found, strict=True))

    async def listed(self, name: str) -> dict[str, dict[str, Any]]:
        """Every job named `name`, by id, from all pages of `GET /jobs?name=`."""
        views: dict[str, dict[str, Any]] = {}
        params: dict[str, str | int] = {"name": name, "limit": 200}
        while True:
            response = await self.client.get("/jobs", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            views.update((view["id"], view) for view in page["jobs"])
            if not page["next_cursor"]:
                return views
            params["cursor"] = page["next_cursor"]

"""The job service over HTTP, for other services: `JobServiceClient` (async) and
`SyncJobServiceClient`, on httpx, answering with the service's own JobView model.

    async with JobServiceClient("https://jobs.example.com", api_key="...") as jobs:
        view = await jobs.enqueue("send_email", {"to": ..., "subject": ..., "body": ...})
        done = await jobs.wait(view.id, timeout=30)

Inside the service's own process, use `jobs.client.JobClient` instead (no HTTP hop, typed by
the job's function).
"""

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, Unpack

import httpx
from opentelemetry import propagate
from pydantic import BaseModel

from jobs.enqueue.options import EnqueueKwargs, EnqueueOptions
from jobs.reading.job_record import JobRecord
from service.routes.batches import BatchView
from service.routes.workflows import WorkflowView

JobView = JobRecord
ExcInfo = type[BaseException] | BaseException | TracebackType | None


class JobServiceError(Exception):
    """The service answered with an error (`{"error": {"code", "message", "details"}}`)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


def _body(payload: BaseModel | dict[str, Any] | None) -> Any:
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    return payload or {}


def _enqueue_request(
    job: str,
    payload: BaseModel | dict[str, Any] | None,
    idempotency_key: str | None,
    options: EnqueueKwargs,
) -> dict[str, Any]:
    """`POST /jobs/{job}`'s arguments, the same for the async and the sync client."""
    return {
        "url": f"/jobs/{job}",
        "json": _body(payload),
        "params": EnqueueOptions(**options).query_params(),
        "headers": {"Idempotency-Key": idempotency_key} if idempotency_key else {},
    }


def _view(response: httpx.Response) -> JobView:
    return JobView.model_validate(_checked(response).json())


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": "http_error", "message": response.text[:200]}
        raise JobServiceError(
            response.status_code,
            error.get("code", "?"),
            error.get("message", ""),
            error.get("details"),
        )
    return response


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _propagate(request: httpx.Request) -> None:
    """The caller's current span as `traceparent` (OpenTelemetry's global propagator): the
    service's request, and the jobs it enqueues, join the caller's trace. Without a span
    (no OpenTelemetry SDK in the caller), nothing is added."""
    propagate.inject(request.headers)


async def _propagate_async(request: httpx.Request) -> None:
    _propagate(request)


MAX_WAIT_PER_CALL_S = 30.0
"""`wait()` long-polls in calls of at most this long (the service caps `?wait=` too)."""


class JobServiceClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=_headers(api_key),
            event_hooks={"request": [_propagate_async]},
            timeout=timeout_s + MAX_WAIT_PER_CALL_S,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def enqueue(
        self,
        job: str,
        payload: BaseModel | dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[EnqueueKwargs],
    ) -> JobView:
        """Enqueue `job`; the new job's view, or (same `idempotency_key` and input, or an equal
        job not final yet with `unique_for`/debounce) the existing job's. `options`: the
        fields of `jobs.enqueue.options.EnqueueOptions`, sent as the route's query options
        (`after`: job ids it waits for; `callback_url`: the service POSTs the final JobView
        there, signed)."""
        return _view(
            await self._http.post(**_enqueue_request(job, payload, idempotency_key, options))
        )

    async def get(self, job_id: str, *, wait_s: float = 0) -> JobView:
        params = {"wait": wait_s} if wait_s else {}
        return _view(await self._http.get(f"/jobs/{job_id}", params=params))

    async def wait(self, job_id: str, *, timeout: float) -> JobView:  # noqa: ASYNC109
        """Until the job is final (long polls); `TimeoutError` if it is not by `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            view = await self.get(job_id, wait_s=max(min(remaining, MAX_WAIT_PER_CALL_S), 0))
            if view.status.is_final:
                return view
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} is still {view.status}")

    async def abort(self, job_id: str) -> JobView:
        return _view(await self._http.delete(f"/jobs/{job_id}"))

    async def create_workflow(
        self, nodes: Mapping[str, Mapping[str, Any]], *, callback_url: str | None = None
    ) -> WorkflowView:
        """`POST /workflows`: nodes by key, each `{"job", "input", "after": [keys], "queue",
        "priority", "on_parent_failure"}`; validated whole, enqueued all or nothing.
        `callback_url`: a signed POST of its outcome once every job is final."""
        body = {"nodes": nodes, "callback_url": callback_url}
        response = await self._http.post("/workflows", json=body)
        return WorkflowView.model_validate(_checked(response).json())

    async def get_workflow(self, workflow_id: str) -> WorkflowView:
        response = await self._http.get(f"/workflows/{workflow_id}")
        return WorkflowView.model_validate(_checked(response).json())

    async def create_batch(
        self,
        jobs: Sequence[Mapping[str, Any]],
        *,
        on_success: Mapping[str, Any] | None = None,
        on_complete: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
    ) -> BatchView:
        """`POST /batches`: jobs as `{"job", "input", "queue", "priority"}`, with optional
        callback jobs (the same shape) run once all are final."""
        body = {
            "jobs": jobs,
            "on_success": on_success,
            "on_complete": on_complete,
            "callback_url": callback_url,
        }
        return BatchView.model_validate(
            _checked(await self._http.post("/batches", json=body)).json()
        )

    async def get_batch(self, batch_id: str) -> BatchView:
        response = await self._http.get(f"/batches/{batch_id}")
        return BatchView.model_validate(_checked(response).json())


class SyncJobServiceClient:
    """The same, blocking (scripts, sync web frameworks)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers=_headers(api_key),
            event_hooks={"request": [_propagate]},
            timeout=timeout_s + MAX_WAIT_PER_CALL_S,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: ExcInfo) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def enqueue(
        self,
        job: str,
        payload: BaseModel | dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[EnqueueKwargs],
    ) -> JobView:
        """Enqueue `job`; the new job's view, or (same `idempotency_key` and input, or an equal
        job not final yet with `unique_for`/debounce) the existing job's. `options`: the
        fields of `jobs.enqueue.options.EnqueueOptions`, sent as the route's query options
        (`after`: job ids it waits for; `callback_url`: the service POSTs the final JobView
        there, signed)."""
        return _view(self._http.post(**_enqueue_request(job, payload, idempotency_key, options)))

    def get(self, job_id: str, *, wait_s: float = 0) -> JobView:
        params = {"wait": wait_s} if wait_s else {}
        return _view(self._http.get(f"/jobs/{job_id}", params=params))

    def wait(self, job_id: str, *, timeout: float) -> JobView:
        """Until the job is final (long polls); `TimeoutError` if it is not by `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            view = self.get(job_id, wait_s=max(min(remaining, MAX_WAIT_PER_CALL_S), 0))
            if view.status.is_final:
                return view
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} is still {view.status}")

    def abort(self, job_id: str) -> JobView:
        return _view(self._http.delete(f"/jobs/{job_id}"))

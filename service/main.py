"""`create_app(settings)`: the web process. `service.main:app` for uvicorn."""

import gc
from typing import Any

from fastapi import FastAPI

from jobs.cron.schedules import schedules_for
from jobs.declare.registry import load_catalog
from jobs.layout import encryption
from jobs.logs import setup_logging
from jobs.settings import Settings, check_api_keys, get_settings
from service.auth import ApiKeyMiddleware
from service.cross_site import CrossSiteGuard
from service.errors import install_error_handlers
from service.lifespan import lifespan
from service.limits import BodySizeLimit
from service.openapi import install_openapi
from service.routes import (
    batches,
    bulk,
    by_filter,
    cron,
    dashboard,
    deliveries,
    docs,
    enqueue,
    failed,
    health,
    job_types,
    jobs,
    limits,
    metrics,
    queues,
    schedules,
    signals,
    stats,
    workflows,
)
from service.security_headers import SecurityHeaders
from service.serving import QueueServing
from service.streams import StreamSlots
from service.telemetry import fastapi_telemetry


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    encryption.install(settings.keyring())  # the API reads what this process's keys sealed
    catalog = load_catalog(settings)
    schedules_for(catalog)  # a cron schedule naming an undeclared job stops the web at start
    app = FastAPI(
        telemetry=fastapi_telemetry(),  # OTEL_EXPORTER_OTLP_ENDPOINT: request spans
        title="Job service",
        version="1.0",
        description="Enqueue background jobs, follow them, read their results.",
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py, with local assets
        redoc_url=None,
        # Operation ids a generated client can use as method names: `enqueue_ping`, `get_job`.
        generate_unique_id_function=lambda route: route.name,
    )
    # Middlewares: the last added runs first. Headers on every answer (401s and 413s too),
    # then the key, then where a browser's request comes from (it needs the key's scheme).
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.queue_serving = QueueServing()
    app.state.stream_slots = StreamSlots(settings.max_streams_per_process)
    install_error_handlers(app)
    app.add_middleware(CrossSiteGuard)
    # Settings check the keys; a copy made with `model_copy(update=...)` skips that, so again.
    app.add_middleware(
        ApiKeyMiddleware,
        api_keys=check_api_keys(settings.api_keys),
        read_keys=check_api_keys(settings.api_keys_read, "API_KEYS_READ"),
    )
    app.add_middleware(SecurityHeaders)
    # The hot route first: a request is matched against the routes in order.
    app.include_router(by_filter.router)  # before `POST /jobs/{name}`: fixed paths first
    app.include_router(enqueue.enqueue_router(catalog))
    app.include_router(bulk.bulk_router(catalog, settings.max_bulk))
    app.include_router(workflows.router)
    app.include_router(batches.router)
    app.include_router(failed.router)
    app.include_router(jobs.router)
    app.include_router(signals.router)
    app.include_router(deliveries.router)
    app.include_router(job_types.router)
    app.include_router(queues.router)
    app.include_router(limits.router)
    app.include_router(cron.router)
    app.include_router(schedules.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(stats.router)
    app.include_router(dashboard.router)
    app.include_router(docs.router)
    install_openapi(app, catalog)
    return app


def __getattr__(name: str) -> Any:
    # `uvicorn service.main:app` looks `app` up here; built on demand, never at import.
    if name == "app":
        settings = get_settings()
        setup_logging(settings)
        app = create_app(settings)
        # What start-up built (routes, models, their schemas) lives as long as the process:
        # frozen, the collector stops scanning it in every full collection.
        gc.collect()
        gc.freeze()
        return app
    raise AttributeError(name)

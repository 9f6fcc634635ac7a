"""The OpenAPI document, with what the models cannot say on their own.

Every answer that is one job's JobView is published per job: `PingJobView` has `name: "ping"`
and `result: Pong`, and where any job may answer (`GET /jobs/{id}`, listings),
the schema is their union, discriminated on `name`. A generated client thus gets typed results.
(The API serves one JobView model; only the document is per job.)

Job inputs are stored as JSON that holds 64-bit integers exactly (orjson), so an integer field
without bounds of its own is published with the int64 range: a client (or a fuzzer) reading the
schema learns what the service answers 422 to (`jobs.layout.serialization.NotSerializable`).
"""

import re
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, create_model
from pydantic.json_schema import models_json_schema

from jobs.declare.registry import JobSpec
from jobs.reading.job_record import JobRecord

INT_MIN, INT_MAX = -(2**63), 2**64 - 1


def bound_integers(node: Any) -> None:
    """Give every `type: integer` without a minimum/maximum the range JSON storage holds."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            if "minimum" not in node and "exclusiveMinimum" not in node:
                node["minimum"] = INT_MIN
            if "maximum" not in node and "exclusiveMaximum" not in node:
                node["maximum"] = INT_MAX
        for value in node.values():
            bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            bound_integers(value)


def _camel(name: str) -> str:
    """`deliver_webhook` -> `DeliverWebhook`; any character a model name cannot hold (job
    names may have `.` and `-`) separates words, so generated clients get valid names."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name))


def job_view_models(catalog: dict[str, JobSpec]) -> dict[str, type[BaseModel]]:
    """Per job: the JobView with its own name and result type."""
    return {
        name: create_model(
            f"{_camel(name)}JobView",
            __base__=JobRecord,
            name=(Literal[name], ...),  # type: ignore[arg-type]
            # `input` stays as sent (the request body's schema documents it; an address that
            # EmailStr takes may not be JSON Schema's ASCII `format: email`).
            result=(spec.output_model | None, None),  # type: ignore[arg-type]
        )
        for name, spec in sorted(catalog.items())
    }


def type_job_views(schema: dict[str, Any], catalog: dict[str, JobSpec]) -> None:
    """Per-job views in the components; each enqueue route answers its own, the others any."""
    views = job_view_models(catalog)
    _, definitions = models_json_schema(
        [(m, "serialization") for m in views.values()], ref_template=REF + "{model}"
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions.get("$defs", {}))
    refs = {name: {"$ref": REF + model.__name__} for name, model in views.items()}
    any_view = {
        "oneOf": list(refs.values()),
        "discriminator": {
            "propertyName": "name",
            "mapping": {name: ref["$ref"] for name, ref in refs.items()},
        },
    }
    generic = {"$ref": REF + JobRecord.__name__}
    for name, component in components.items():  # pages and bulk answers hold any job's view
        if name != JobRecord.__name__ and not name.endswith("JobView"):
            _replace(component, generic, any_view)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            own = _own_job(path, catalog)
            _replace(operation.get("responses", {}), generic, refs[own] if own else any_view)


REF = "#/components/schemas/"


def pin_queues(schema: dict[str, Any], catalog: dict[str, JobSpec]) -> None:
    """A job whose limits or uniqueness live on its queue takes no other: its enqueue routes
    publish `queue` as that one name (another is 422 `queue_pinned`)."""
    for path, operations in schema.get("paths", {}).items():
        own = _own_job(path, catalog)
        if own is None or not catalog[own].flow.pins_queue:
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") == "queue":
                    parameter["schema"] = {"type": "string", "enum": [catalog[own].queue]}
                    parameter["description"] = (
                        "Only its declared queue: its limits and uniqueness are kept there."
                    )


def describe_limits(schema: dict[str, Any], catalog: dict[str, JobSpec]) -> None:
    """Each job's enqueue routes (`POST /jobs/{name}`, `.../bulk`) say its limits in /docs."""
    for path, operations in schema.get("paths", {}).items():
        own = _own_job(path, catalog)
        text = limits_text(catalog[own]) if own else None
        if text and "post" in operations:
            post = operations["post"]
            post["description"] = f"{post.get('description', '').rstrip()}\n\n{text}".lstrip()


def limits_text(spec: JobSpec) -> str | None:
    """A job's flow control in one paragraph of Markdown (None without any)."""
    flow = spec.flow

    def per(key: str | None) -> str:
        return f" per value of `{key}`" if key else ""

    parts = []
    if flow.concurrency is not None:
        parts.append(f"at most {flow.concurrency} at once{per(flow.concurrency_key)}")
    if flow.rate is not None:
        parts.append(
            f"rate limit {flow.rate.text}{per(flow.rate_key)} (GCRA, burst {flow.rate_burst})"
        )
    equal = f"the same `{flow.unique_key}`" if flow.unique_key else "the same input"
    if flow.unique_for_s is not None:
        parts.append(
            f"unique for {flow.unique_for_s:g} s (an enqueue with {equal} while this job is "
            "not final returns it: 200)"
        )
    if flow.debounce_s is not None:
        parts.append(
            f"debounced {flow.debounce_s:g} s (an enqueue with {equal} before it starts "
            "replaces its input and restarts the wait: 200)"
        )
    if flow.expires_s is not None:
        parts.append(f"expires {flow.expires_s:g} s after enqueue if not started (`Expired`)")
    if not parts:
        return None
    where = f" It runs on queue `{spec.queue}` only." if flow.pins_queue else ""
    return f"**Limits** (shared by every worker): {'; '.join(parts)}.{where}"


def _own_job(path: str, catalog: dict[str, JobSpec]) -> str | None:
    """`/jobs/ping` and `/jobs/ping/bulk` answer ping's views."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "jobs" and parts[1] in catalog:
        return parts[1]
    return None


def _replace(node: Any, old: dict[str, Any], new: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if value == old:
                node[key] = new
            else:
                _replace(value, old, new)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if value == old:
                node[i] = new
            else:
                _replace(value, old, new)


def install_openapi(app: FastAPI, catalog: dict[str, JobSpec]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            type_job_views(schema, catalog)
            pin_queues(schema, catalog)
            describe_limits(schema, catalog)
            bound_integers(schema.get("components", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

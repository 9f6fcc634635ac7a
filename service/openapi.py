"""The OpenAPI document, with what the models cannot say on their own.

Job inputs are stored as JSON that holds 64-bit integers exactly (orjson), so an integer field
without bounds of its own is published with the int64 range: a client (or a fuzzer) reading the
schema learns what the service answers 422 to (`jobs.serialization.NotSerializable`).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

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


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            bound_integers(schema.get("components", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

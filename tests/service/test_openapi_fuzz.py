"""Schemathesis over the app's own `/openapi.json`: every operation gets generated requests, valid
and not (its coverage phase adds boundary values, unknown parameters and undeclared methods), and
must answer with no 5xx and only what the document declares: status code, content type, headers
and body schema. Every error is the service's JSON error, a 405 with `Allow`.

The app runs in-process with its lifespan (schemathesis' ASGI client starts it; its pytest
plugin ends it with the test) against the test Redis. No worker runs: enqueued jobs stay queued.
"""

from typing import Any

import pytest
import schemathesis
from arq.connections import ArqRedis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError
from schemathesis import Case
from schemathesis.checks import (
    CheckContext,
    CheckFunction,
    not_a_server_error,
    positive_data_acceptance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema

from service.main import create_app
from settings import Settings

FUZZ_CONFIG = SchemathesisConfig.from_dict(
    # Invalid input may also be refused as too large (413: a generated body over the limit).
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 404, 405, 409, 413, 415, 422]
            }
        }
    }
)


@pytest.fixture
def api_schema(settings: Settings, redis: ArqRedis) -> BaseSchema:
    # A long-poll (`?wait=`) on a job that exists would hold a case for up to `wait` seconds:
    # capped, so the run stays short whatever the generator picks.
    app = create_app(settings.model_copy(update={"max_wait_s": 0.2}))
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=FUZZ_CONFIG)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32 names each operation's subtest through `Node._nodeid`, which pytest 9.2
    # no longer has (`nodeid` is computed): give it the attribute it reads and restores.
    setattr(request.node, "_nodeid", request.node.nodeid)  # noqa: B010


def errors_are_json(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every error is `{"error": {"code", "message", "details"}}`; a 405 also carries `Allow`."""
    if response.status_code < 400 or case.operation.path == "/ready":
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    if response.status_code == 405:
        assert response.headers.get("allow"), "a 405 without Allow"
    return None


def _accepted_email(address: str) -> bool:
    try:
        TypeAdapter(EmailStr).validate_python(address)
    except ValidationError:
        return False
    return True


# `format: email` (RFC 5321) is looser than pydantic's `EmailStr`, which also refuses special-use
# domains (`.test`, `.local`, `.arpa`, ...): JSON Schema cannot say so, so generate addresses
# that `EmailStr` takes (an input model with `EmailStr` is the job's own contract, not the API's).
schemathesis.openapi.format("email", st.emails().filter(_accepted_email))

schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,  # per operation and phase; the coverage phase adds its own fixed cases
    derandomize=True,  # the same cases on every run: CI never finds a new failure by chance
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: Case[Any]) -> None:
    excluded: list[CheckFunction] = []
    if case.operation.path == "/ready":
        # No worker runs here, so readiness is its documented 503 (a `Readiness`, checked).
        excluded.append(not_a_server_error)
    if {"defer_by", "defer_until"} <= set(case.query or {}):
        # One or the other: a rule across parameters that OpenAPI cannot state (each parameter's
        # description does). The 422 is still checked against the document.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded, additional_checks=[errors_are_json])

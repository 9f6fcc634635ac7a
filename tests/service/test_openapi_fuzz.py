"""Schemathesis over the app's own `/openapi.json`: every operation gets generated requests, valid
and not (its coverage phase adds boundary values, unknown parameters and undeclared methods), and
must answer with no 5xx and only what the document declares: status code, content type, headers
and body schema. Every error is the service's JSON error, a 405 with `Allow`.

The app runs in-process with its lifespan (schemathesis' ASGI client starts it; its pytest
plugin ends it with the test) against the test Redis. No worker runs: enqueued jobs stay queued.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
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

from jobs.layout.connection import RedisClient
from service.main import create_app
from settings import Settings

FUZZ_MAX_BULK = 3
"""`MAX_BULK` of the fuzzed app: the bulk bodies' `maxItems`."""

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
def api_schema(settings: Settings, redis: RedisClient) -> BaseSchema:
    # A long-poll (`?wait=`) on a job that exists would hold a case for up to `wait` seconds:
    # capped, so the run stays short whatever the generator picks. A bulk body may hold
    # `max_bulk` items, and the coverage phase sends exactly that many and one more: with the
    # default 1000, generating those arrays alone took minutes on two busy cores.
    app = create_app(settings.model_copy(update={"max_wait_s": 0.2, "max_bulk": FUZZ_MAX_BULK}))
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

# One test per part of the API, so each stays well inside the suite's per-test timeout: every
# job type has an enqueue and a bulk operation (about 40 of each with the test jobs), and the
# coverage phase sends every boundary and invalid value the schema defines for each of them
# (about 200 cases an operation, whatever `max_examples` says), in one test ~100 s on two busy
# cores. Together the three fuzz exactly the operations the one test did.
ENQUEUE = r"^/jobs/[^/{}]+$"
BULK = r"^/jobs/[^/{}]+/bulk$"
enqueue_operations = schema.include(path_regex=ENQUEUE)
bulk_operations = schema.include(path_regex=BULK)
other_operations = schema.exclude(path_regex=ENQUEUE).exclude(path_regex=BULK)

FUZZ_BUDGET = settings(
    max_examples=25,  # per operation, for the fuzzing phase; the coverage phase adds its own
    derandomize=True,  # the same cases on every run: CI never finds a new failure by chance
    database=None,
    deadline=None,  # a case's time is the machine's load, not the service's behaviour
    # No shrinking: a failure is reported as found (derandomized, so it is found again), and a
    # long shrink cannot run a test into the timeout.
    phases=[Phase.explicit, Phase.generate],
    # too_slow / data_too_large: the budget is bounded by the settings above, not by timing;
    # filter_too_much: the email strategy filters; function_scoped_fixture: the lazy schema.
    suppress_health_check=list(HealthCheck),
)


FUZZ_TIMEOUT = pytest.mark.timeout(600)
"""The job registry is process-wide: in the whole suite it holds every job the tests declared
before (steps, chaos, tracing...), each with its enqueue and bulk operations, which takes a
run past the suite's 120 s on two cores."""


def answers_as_documented(case: Case[Any]) -> None:
    excluded: list[CheckFunction] = []
    if case.operation.path == "/ready":
        # No worker runs here, so readiness is its documented 503 (a `Readiness`, checked).
        excluded.append(not_a_server_error)
    query = set(case.query or {})
    if {"defer_by", "defer_until"} <= query or {"expires_in", "expires_at"} <= query:
        # One or the other: a rule across parameters that OpenAPI cannot state (each parameter's
        # description does). The 422 is still checked against the document.
        excluded.append(positive_data_acceptance)
    elif query & {"defer_until", "expires_at"}:
        # At most 365 days from now: a bound relative to the clock, which OpenAPI cannot state.
        excluded.append(positive_data_acceptance)
    elif query & {"after", "callback_url"}:
        # Parents must exist (an unknown one is the documented 422 `unknown_parent`), a job
        # with parents takes no defer, a callback needs webhooks configured and an allowed
        # address: what the document can only say in words.
        excluded.append(positive_data_acceptance)
    elif "queue" in query and case.method == "POST":
        # The queue must be declared (a job's, `QUEUES`, `WORKER_QUEUES`): the settings' to
        # say, not the document's (the documented 422 `unknown_queue` otherwise).
        excluded.append(positive_data_acceptance)
    elif case.operation.path in ("/jobs/abort", "/jobs/retry"):
        # At least one criterion (an empty filter never means every job): a rule across the
        # body's fields that the document states in words; the 422 is still checked.
        excluded.append(positive_data_acceptance)
    elif case.operation.path == "/schedules/{name}" and case.method == "PUT":
        # The job must be declared, its input that job's, and exactly one of cron and every:
        # the catalog's and the description's to say (a documented 422 otherwise).
        excluded.append(positive_data_acceptance)
    elif case.operation.path == "/jobs" and {"id_prefix", "cursor"} <= query:
        # id_prefix answers one page: with a cursor it is a documented 422.
        excluded.append(positive_data_acceptance)
    elif case.operation.path in ("/workflows", "/batches") and case.method == "POST":
        # Each node names a job and carries that job's input: which names exist and what each
        # input must be is the catalog's to say, not the document's (a 422 naming the node).
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded, additional_checks=[errors_are_json])


@enqueue_operations.parametrize()
@FUZZ_BUDGET
@FUZZ_TIMEOUT
def test_every_enqueue_operation_answers_as_documented(case: Case[Any]) -> None:
    answers_as_documented(case)


@bulk_operations.parametrize()
@FUZZ_BUDGET
@FUZZ_TIMEOUT
def test_every_bulk_operation_answers_as_documented(case: Case[Any]) -> None:
    answers_as_documented(case)


@other_operations.parametrize()
@FUZZ_BUDGET
@FUZZ_TIMEOUT
def test_every_other_operation_answers_as_documented(case: Case[Any]) -> None:
    answers_as_documented(case)


# What the fuzzing found, pinned down as plain cases.


async def test_a_405_lists_every_method_of_the_resource(client: httpx.AsyncClient) -> None:
    for method in ("OPTIONS", "PUT", "PATCH"):
        answer = await client.request(method, "/jobs/some-id")
        assert answer.status_code == 405 and answer.headers["allow"] == "DELETE, GET"
        assert answer.json()["error"]["code"] == "method_not_allowed"
    # A job type's path is its enqueue resource: no fall-through to `GET /jobs/{job_id}`.
    answer = await client.get("/jobs/ping")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "value", ["0", "-1", "2030-01-01", "2030-01-01T00:00:00", "2030-01-01 00:00:00Z", "tomorrow"]
)
async def test_defer_until_takes_only_rfc3339_date_times(
    client: httpx.AsyncClient, value: str
) -> None:
    answer = await client.post("/jobs/ping", params={"defer_until": value})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["loc"] == ["query", "defer_until"]


async def test_defer_until_in_another_offset_is_the_same_instant(client: httpx.AsyncClient) -> None:
    day = (datetime.now(UTC) + timedelta(days=30)).date()
    view = await client.post("/jobs/ping", params={"defer_until": f"{day}t09:00:00+09:00"})
    assert view.status_code == 202
    assert view.json()["scheduled_for"] == f"{day}T00:00:00Z"


@pytest.mark.parametrize("body", [{"seconds": False}, {"seconds": "1.5"}, {"seconds": [1]}])
async def test_a_body_the_schema_refuses_is_422_even_if_pydantic_could_coerce_it(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    answer = await client.post("/jobs/too_slow", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["loc"] == ["body", "seconds"]


async def test_an_integral_float_is_an_integer_as_json_schema_says(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/jobs/ping", json={"fail_times": 2.0})
    assert answer.status_code == 202 and answer.json()["input"]["fail_times"] == 2


async def test_the_document_shows_a_repeated_idempotency_key_and_json_errors(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    enqueue = paths["/jobs/ping"]["post"]["responses"]
    assert {"200", "202", "400", "401", "404", "409", "413", "422", "503"} <= enqueue.keys()
    assert "Location" in enqueue["200"]["headers"] and "Location" in enqueue["202"]["headers"]
    events = paths["/jobs/{job_id}/events"]["get"]["responses"]
    assert "application/json" in events["404"]["content"]
    assert "Retry-After" in paths["/queues"]["get"]["responses"]["503"]["headers"]

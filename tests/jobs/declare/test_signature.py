"""Signatures as models: what a job function's parameters and return annotation become."""

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from jobs.declare.context import JobContext, SyncJobContext
from jobs.declare.job_errors import InvalidOutput
from jobs.declare.signature import JobSignatureError, read_signature


class Order(BaseModel):
    id: int


class Receipt(BaseModel):
    total: float


class Opaque:
    """Not something pydantic can validate or JSON can hold."""


def test_parameters_become_the_input_model_with_their_constraints() -> None:
    def notify(
        ctx: SyncJobContext,
        email: str,
        retries: Annotated[int, Field(ge=0, le=3)] = 1,
        tags: list[str] = Field(default_factory=list),
    ) -> None:
        print(email, retries, tags)

    signature = read_signature(notify, "notify", blocking=True)
    model = signature.input_model
    assert model.__name__ == "NotifyInput"
    assert model.model_validate({"email": "a@b.c"}).model_dump() == {
        "email": "a@b.c",
        "retries": 1,
        "tags": [],
    }
    with pytest.raises(ValidationError):
        model.model_validate({"email": "a@b.c", "retries": 4})
    with pytest.raises(ValidationError):
        model.model_validate({})
    assert "ctx" not in model.model_fields  # the context is injected, not input
    assert signature.output_model.model_validate(None).model_dump(mode="json") is None


def test_the_model_shape_calls_the_function_itself() -> None:
    async def place(ctx: JobContext, payload: Order) -> Receipt:
        return Receipt(total=payload.id)

    async def stock_arq(ctx, payload: Order) -> Receipt:  # type: ignore[no-untyped-def]
        return Receipt(total=payload.id)

    for function in (place, stock_arq):
        signature = read_signature(function, "place", blocking=False)
        assert signature.input_model is Order and signature.output_model is Receipt
        assert signature.invoke is function  # nothing between the worker and the job


def test_a_lone_model_parameter_is_the_whole_input() -> None:
    def ship(order: Order) -> list[int]:
        return [order.id]

    signature = read_signature(ship, "ship", blocking=True)
    assert signature.input_model is Order
    shipped: Any = signature.invoke(None, Order(id=7))
    assert shipped == [7]
    output = signature.output_model
    dumped: Any = output.model_validate([7]).model_dump(mode="json")
    assert dumped == [7]
    assert output.model_json_schema()["type"] == "array"


def test_no_return_annotation_is_any_and_a_context_can_stand_anywhere() -> None:
    def late(a: int, ctx: SyncJobContext, b: int = 2):  # type: ignore[no-untyped-def]
        return {"sum": a + b, "job": ctx}

    signature = read_signature(late, "late", blocking=True)
    result: dict[str, Any] = signature.invoke("the context", signature.input_model(a=1))
    assert result == {"sum": 3, "job": "the context"}


def test_a_wrong_output_is_a_typed_permanent_error() -> None:
    error = None
    try:
        Receipt.model_validate({"total": "lots"})
    except ValidationError as invalid:
        error = InvalidOutput("place", Receipt, invalid)
    assert error is not None and error.permanent
    assert "place returned something that is not its Receipt: total:" in str(error)


@pytest.mark.parametrize(
    "source",
    [
        "def f(*a: int) -> None: ...",
        "def f(**k: int) -> None: ...",
        "def f(a, /) -> None: ...",
        "def f(a: int, /) -> None: ...",
        "def f(x) -> None: ...",
        "def f(model_config: int) -> None: ...",
        "def f(order: Order = None) -> None: ...",
        "def f() -> Opaque: ...",
        "def f(thing: Opaque) -> None: ...",
    ],
)
def test_what_cannot_become_a_model_is_refused_naming_the_job(source: str) -> None:
    namespace: dict[str, Any] = {"Order": Order, "Opaque": Opaque}
    exec(source, namespace)
    with pytest.raises(JobSignatureError, match="job 'named'"):
        read_signature(namespace["f"], "named", blocking=True)

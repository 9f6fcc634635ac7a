"""A job function's signature read as models, the way FastAPI reads an endpoint's.

Two shapes:

- `(ctx, payload: In) -> Out` with pydantic models: `In` is the whole input (the first shape
  this service had; stock ARQ jobs look like it);
- parameters, like an endpoint's: `def send_notification(message: str, urgent: bool = False)
  -> None`. The input model is built from them (their types, defaults, `Annotated`
  constraints, `Field(...)` defaults); the output is any JSON-able annotation (a `RootModel`
  of it; no annotation is `Any`). A single parameter annotated with a model is the whole input,
  as a lone body parameter is in FastAPI.

A parameter annotated `JobContext` (in an `async def`) or `SyncJobContext` (in a `def`) gets the
try's context, wherever it stands. What cannot become a model (`*args`, `**kwargs`, a
positional-only or unannotated parameter) is refused when the module is imported, naming the
job: the worker and the web refuse to start rather than fail each try.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard, get_type_hints

from pydantic import BaseModel, RootModel, create_model

from jobs.declare.context import JobContext, SyncJobContext
from jobs.declare.models import Model

Invoke = Callable[[Any, BaseModel], Any]
"""Calls the job function with a try's context and its validated input."""


@dataclass(frozen=True, slots=True)
class Signature:
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    invoke: Invoke


class JobSignatureError(TypeError):
    """A job function whose signature cannot become its input and output models."""


def read_signature(function: Callable[..., Any], job_name: str, *, blocking: bool) -> Signature:
    """The models and the call of `function`; `blocking`: a `def` (it takes `SyncJobContext`)."""
    where = f"job {job_name!r} ({function.__module__}.{function.__qualname__})"
    try:
        hints = get_type_hints(function, include_extras=True)
    except Exception as exc:  # a forward reference that does not resolve
        raise JobSignatureError(f"{where}: cannot read its annotations ({exc})") from None
    parameters = list(inspect.signature(function).parameters.values())
    context_type = SyncJobContext if blocking else JobContext
    wrong_context = JobContext if blocking else SyncJobContext

    context: str | None = None
    fields: list[inspect.Parameter] = []
    for i, p in enumerate(parameters):
        annotation = hints.get(p.name, inspect.Parameter.empty)
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise JobSignatureError(f"{where}: *{p.name} cannot become an input field")
        if annotation is context_type or (
            # `async def f(ctx, payload: Model)`: the stock ARQ shape, context unannotated
            i == 0
            and not blocking
            and annotation is inspect.Parameter.empty
            and len(parameters) == 2
        ):
            context = p.name
            continue
        if annotation is wrong_context:
            kind = "a def" if blocking else "an async def"
            raise JobSignatureError(
                f"{where}: {kind} takes {context_type.__name__}, not {wrong_context.__name__} "
                f"(parameter {p.name!r})"
            )
        if annotation is inspect.Parameter.empty:
            raise JobSignatureError(f"{where}: parameter {p.name!r} needs a type annotation")
        if p.kind is p.POSITIONAL_ONLY:
            raise JobSignatureError(f"{where}: parameter {p.name!r} is positional-only")
        fields.append(p)

    output_model = _output_model(function, job_name, hints.get("return", Any), where)
    if len(fields) == 1 and _is_model(hints[fields[0].name]):
        whole = fields[0]
        if fields[0].default is not inspect.Parameter.empty:
            raise JobSignatureError(f"{where}: the input model parameter cannot have a default")
        return Signature(hints[whole.name], output_model, _whole_input(function, context, whole))
    model = _input_model(function, job_name, fields, hints, where)
    return Signature(model, output_model, _by_field(function, context, [f.name for f in fields]))


def _whole_input(function: Callable[..., Any], context: str | None, p: inspect.Parameter) -> Invoke:
    if context is None:
        return lambda _ctx, payload: function(payload)
    names = list(inspect.signature(function).parameters)
    if names == [context, p.name]:
        return function  # `(ctx, payload)`: called as it is, nothing between
    return lambda ctx, payload: function(**{context: ctx, p.name: payload})


def _by_field(function: Callable[..., Any], context: str | None, names: list[str]) -> Invoke:
    if context is None:
        return lambda _ctx, payload: function(**{n: getattr(payload, n) for n in names})
    return lambda ctx, payload: function(
        **{context: ctx}, **{n: getattr(payload, n) for n in names}
    )


def _input_model(
    function: Callable[..., Any],
    job_name: str,
    fields: list[inspect.Parameter],
    hints: dict[str, Any],
    where: str,
) -> type[BaseModel]:
    definitions: dict[str, Any] = {
        p.name: (hints[p.name], ... if p.default is inspect.Parameter.empty else p.default)
        for p in fields
    }
    try:
        return create_model(
            f"{_pascal(job_name)}Input",
            __base__=Model,
            __module__=function.__module__,
            __doc__=f"The input of `{job_name}`: its parameters.",
            **definitions,
        )
    except Exception as exc:  # a type pydantic cannot validate, a name it reserves
        raise JobSignatureError(f"{where}: its parameters cannot become a model: {exc}") from None


def _output_model(
    function: Callable[..., Any], job_name: str, annotation: Any, where: str
) -> type[BaseModel]:
    if _is_model(annotation):
        return annotation
    if annotation is None:
        annotation = type(None)
    try:
        root = RootModel[annotation]
        output: type[BaseModel] = type(
            f"{_pascal(job_name)}Output",
            (root,),
            {"__module__": function.__module__, "__doc__": f"What `{job_name}` returns."},
        )
        output.model_json_schema()  # refuses what cannot be JSON now, not at the first result
    except Exception as exc:
        raise JobSignatureError(
            f"{where}: its return type cannot be stored as JSON: {exc}"
        ) from None
    return output


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(".", "_").split("_"))

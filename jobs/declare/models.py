"""The base for the service's models, and for your jobs' input and output models if you like:
a field's docstring becomes its description in the JSON Schema (`/docs`, `/job-types`)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel

ExtraFields = Literal["forbid", "ignore", "allow"]
"""What an enqueue does with fields its job's input does not declare (pydantic's `extra`)."""


class Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


def enqueue_model(model: type[BaseModel], extra_fields: ExtraFields | None) -> type[BaseModel]:
    """The input model an enqueue validates with: `model`, refusing unknown fields.

    A misspelt field (`{"mesage": "x"}`) would otherwise be dropped and the job run with the
    default. What wins: `@job(extra_fields=...)`, then an `extra` the model's author set
    (`model_config`), then "forbid". Only enqueues are strict: the worker validates a queued
    job with `model` itself, so a job queued before a field was removed still runs after the
    deploy. A subclass of the same name, so /docs names the schema as before; a root model
    has no fields to be unknown, and nested models keep their own setting."""
    declared = model.model_config.get("extra")
    wanted = extra_fields or declared or "forbid"
    if issubclass(model, RootModel) or wanted == (declared or "ignore"):
        return model
    namespace = {
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
        "__doc__": model.__doc__,
        "model_config": ConfigDict(extra=wanted),
    }
    metaclass: Any = type(model)  # pydantic's; mypy cannot type a class built by a call
    strict: type[BaseModel] = metaclass(model.__name__, (model,), namespace)
    return strict

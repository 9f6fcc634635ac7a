"""The base for the service's models, and for your jobs' input and output models if you like:
a field's docstring becomes its description in the JSON Schema (`/docs`, `/job-types`)."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

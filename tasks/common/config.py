"""One pattern for every params section: a pydantic model, validated once at the stage boundary.

A section model subclasses ``Section`` (typed, unknown keys rejected).  ``validate_section`` turns pydantic's
report into one line that names each dotted key (``motion.procedural.motions_per_class``) and, for an
unknown key, the nearest valid one.  Booleans accept YAML's and pydantic's spellings (``"false"``, ``"no"``,
``"off"``, ``"0"`` are false), never Python's truthiness of a non-empty string.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from tasks.common.params import ParamsError, load_params

S = TypeVar("S", bound=BaseModel)


class Section(BaseModel):
    """Base of every params section and sub-section: unknown keys are errors, values are not mutated later."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def invalid(problem: str) -> PydanticCustomError:
    """A validation error whose message is ``problem`` as written (a ValueError would read "Value error, ...")."""
    return PydanticCustomError("params", "{problem}", {"problem": problem})


def validate_section(model: type[S], data: dict[str, Any] | None, name: str) -> S:
    """``model`` validated from the params section ``name``; ParamsError with one line per problem."""
    if data is not None and not isinstance(data, dict):
        raise ParamsError(f"params.yaml: {name}: must be a mapping of keys to values, got {type(data).__name__}")
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        problems = [_describe(model, name, err) for err in exc.errors(include_input=False)]
        raise ParamsError("params.yaml: " + "; ".join(problems)) from None


def load_section(model: type[S], params_path: str | Path, name: str) -> S:
    """Read section ``name`` of the params file and validate it with ``model``."""
    return validate_section(model, load_params(params_path, name), name)


def _describe(model: type[BaseModel], name: str, err: dict[str, Any]) -> str:
    loc = [str(part) for part in err["loc"]]
    key = ".".join([name, *loc])
    if err["type"] == "extra_forbidden":
        valid = _fields_at(model, loc[:-1])
        near = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.6)
        hint = f" (did you mean '{near[0]}'?)" if near else (f" (valid: {', '.join(valid)})" if valid else "")
        return f"{key}: unknown key{hint}"
    return f"{key}: {err['msg']}"


def _fields_at(model: type[BaseModel], path: list[str]) -> list[str]:
    """Field names of the (sub-)model that ``path`` leads to, or [] where it leads to no model."""
    current: Any = model
    for part in path:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = _model_of(fields[part].annotation)
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside an annotation such as ``Sub``, ``Sub | None`` or ``Optional[Sub]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None

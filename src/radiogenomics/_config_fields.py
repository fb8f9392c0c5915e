"""What a pydantic config model says about one of its fields: the keys allowed at a location
(for "did you mean"), the section model behind a field, and whether a field holds text.

Used by :mod:`radiogenomics.config` to word validation errors and to read ``--set`` overrides.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at the model that owns location ``loc`` (for 'did you mean')."""
    current: Any = model
    for part in loc[:-1]:
        ann = section_model(current, str(part))
        if ann is None:
            return []
        current = ann
    return list(current.model_fields) if isinstance(current, type) else []


def section_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    field = model.model_fields.get(name)
    if field is None:
        return None
    for candidate in flatten(field.annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return flatten(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(flatten(arg))
        return out
    return [annotation]


def leaf_wants_text(model: type[BaseModel], dotted: list[str]) -> bool:
    """Whether the field at ``dotted`` is typed as text or a path (so '--set' keeps the string)."""
    current: type[BaseModel] | None = model
    for part in dotted[:-1]:
        current = section_model(current, part) if current is not None else None
    if current is None or dotted[-1] not in current.model_fields:
        return False
    kinds = flatten(current.model_fields[dotted[-1]].annotation)
    literal_text = any(
        typing.get_origin(k) is Literal and all(isinstance(v, str) for v in typing.get_args(k))
        for k in kinds
    )
    return literal_text or any(k in (str, Path) for k in kinds)

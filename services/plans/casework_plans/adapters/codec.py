"""The plan aggregate as a plain document body and back: dataclasses become objects,
enums their values, dates and instants ISO strings, tuples lists. Read back by the
dataclasses' own type hints, so a new field with a default reads old documents."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

from casework_plans.domain import catalogue, plans

T = TypeVar("T")
_NAMESPACE = {**vars(plans), **vars(catalogue)}


def dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): dump(v) for k, v in value.items()}
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, globalns=_NAMESPACE)


def load(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return load(options[0], data)
    if origin is tuple:
        (item, *_rest) = typing.get_args(kind)
        return tuple(load(item, v) for v in data)
    if origin is dict:
        _key, item = typing.get_args(kind)
        return {k: load(item, v) for k, v in data.items()}
    if isinstance(kind, type):
        if dataclasses.is_dataclass(kind):
            hints = _hints(kind)
            names = {f.name for f in dataclasses.fields(kind)}
            return kind(**{k: load(hints[k], v) for k, v in data.items() if k in names})
        if issubclass(kind, Enum):
            return kind(data)
        if issubclass(kind, datetime):
            return datetime.fromisoformat(data)
        if issubclass(kind, date):
            return date.fromisoformat(data)
    return data


def load_as(cls: type[T], data: Any) -> T:
    result: T = load(cls, data)
    return result

"""The plan aggregate as a plain document body and back: dataclasses become objects,
enums their values, dates and instants ISO strings, tuples lists. Read back by the
dataclasses' own type hints, so a new field with a default reads old documents."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
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
    return _loader(kind)(data)


def _identity(data: Any) -> Any:
    return data


@functools.cache
def _loader(kind: Any) -> Callable[[Any], Any]:
    """A reader of `kind` built once per type (reading a plan is then a walk over its
    fields with no type inspection left)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        inner = _loader(options[0])
        return lambda data: None if data is None else inner(data)
    if origin is tuple:
        item = _loader(typing.get_args(kind)[0])
        return lambda data: tuple(item(v) for v in data)
    if origin is dict:
        value = _loader(typing.get_args(kind)[1])
        return lambda data: {k: value(v) for k, v in data.items()}
    if isinstance(kind, type):
        if dataclasses.is_dataclass(kind):
            hints = _hints(kind)
            readers = {f.name: _loader(hints[f.name]) for f in dataclasses.fields(kind)}
            cls = kind

            def read(data: Any) -> Any:
                return cls(**{k: readers[k](v) for k, v in data.items() if k in readers})

            return read
        if issubclass(kind, Enum):
            return kind
        if issubclass(kind, datetime):
            return datetime.fromisoformat
        if issubclass(kind, date):
            return date.fromisoformat
    return _identity


def load_as(cls: type[T], data: Any) -> T:
    result: T = load(cls, data)
    return result

"""JSON from outside (public HTTP bodies, form definitions and answers) read so that
nothing in it can reach a store, an encoder or the stack as an internal error.

Refused, each as a FieldError on the field that carried the JSON:
- nesting deeper than MAX_DEPTH (json's own parser recurses and ends in
  RecursionError; the depth is measured before parsing, without recursion);
- NaN and +-Infinity (not JSON, and neither the database nor protobuf's Struct keep
  them), numbers whose magnitude is 2**63 or more (no 64-bit store holds them);
- strings holding a lone surrogate ("\\ud800"), which no UTF-8 encoder accepts.
check_value applies the same rules to data that was already decoded (a protobuf
Struct turned into Python).
"""

from __future__ import annotations

import json
import math
from typing import Any

from casework_common.errors import FieldError, InvalidArgument
from casework_common.values import text_error

MAX_DEPTH = 64
LARGEST = 2**63


class _Refused(ValueError):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, ignoring brackets inside strings."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows")


def _integer(text: str) -> int:
    value = int(text)
    if abs(value) >= LARGEST:
        raise _Refused("holds a number too large")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) >= LARGEST:
        raise _Refused("holds a number too large")
    return value


def loads(
    raw: str | bytes, *, field: str, root: str | None = None, max_depth: int = MAX_DEPTH
) -> Any:
    """Parse `raw`; anything unreadable or refused raises InvalidArgument on `field`.
    A refused value inside is named by its path under `root` (default: `field`; an
    HTTP body passes "" so that its fields are named as the form names them)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidArgument([FieldError(field, "is not UTF-8")]) from None
    if _depth(text) > max_depth:
        raise InvalidArgument([FieldError(field, f"is nested more than {max_depth} levels deep")])
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=_float)
    except _Refused as refused:
        raise InvalidArgument([FieldError(field, refused.description)]) from None
    except (ValueError, RecursionError):
        raise InvalidArgument([FieldError(field, "is not JSON")]) from None
    check_value(value, field=field if root is None else root, max_depth=max_depth)
    return value


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check_value(value: Any, *, field: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse decoded JSON-shaped data that breaks the rules above (iteratively: the
    data may be as deep as the caller's stack). `field` names the value itself; ""
    names its keys alone."""
    errors: list[FieldError] = []
    pending: list[tuple[Any, str, int]] = [(value, field, 0)]
    while pending and len(errors) < 10:
        item, path, depth = pending.pop()
        if isinstance(item, dict | list) and depth >= max_depth:
            errors.append(
                FieldError(field or "body", f"is nested more than {max_depth} levels deep")
            )
            break
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    errors.append(FieldError(path or "body", "has a key that is not text"))
                    continue
                problem = text_error(key)
                if problem:
                    errors.append(FieldError(path or "body", f"has a key that {problem}"))
                    continue
                pending.append((child, _child(path, key[:64]), depth + 1))
        elif isinstance(item, list):
            pending.extend(
                (child, f"{path or 'body'}[{i}]", depth + 1) for i, child in enumerate(item)
            )
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            if isinstance(item, float) and not math.isfinite(item):
                errors.append(FieldError(path, "is not a finite number"))
            elif abs(item) >= LARGEST:
                errors.append(FieldError(path, "is a number too large"))
        elif isinstance(item, str):
            problem = text_error(item, multiline=True)
            if problem:
                errors.append(FieldError(path, problem))
        else:
            errors.append(FieldError(path, "is not a JSON value"))
    if errors:
        raise InvalidArgument(errors)

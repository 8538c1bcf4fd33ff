"""What every gRPC request must satisfy before a servicer translates it, and the
converters from protobuf's well-known types that cannot fail with an internal error.

`guard_requests` wraps a servicer class so that each call first passes
`check_request`: every string is no longer than its field's limit and free of the
characters values.text_error refuses; every repeated field holds at most its limit of
items; every Timestamp is one a datetime can hold; every Struct is finite and shallow.
The limits are generous ceilings against abuse (a megabyte id, a million members);
each domain keeps its own, usually tighter, rules and wording.
"""

from __future__ import annotations

import enum
import functools
import inspect
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf import struct_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from casework_common import safe_json
from casework_common.errors import FieldError, InvalidArgument
from casework_common.values import text_error

# Ceilings by field name; a field not named here is a short line of text.
MAX_ID = 200
MAX_LINE = 1_000
MAX_FREE_TEXT = 10_000
MAX_DOCUMENT = 256 * 1024
MAX_ITEMS = 200
MAX_ERRORS = 20

# Free text: line breaks and tabs allowed.
FREE_TEXT_FIELDS = frozenset(
    {
        "free_text",
        "notes",
        "note",
        "text",
        "description",
        "summary",
        "reason",
        "outcome",
        "address",
        "body",
    }
)
DOCUMENT_FIELDS = frozenset({"definition_json"})
ITEM_LIMITS = {"rules": 1_000}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What datetime holds: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z (protobuf's range).
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799
_MAX_NANOS = 999_999_999


def _string_limit(name: str) -> int:
    if name in DOCUMENT_FIELDS:
        return MAX_DOCUMENT
    if name in FREE_TEXT_FIELDS:
        return MAX_FREE_TEXT
    if name == "id" or name.endswith(("_id", "_ids", "_key", "_token")):
        return MAX_ID
    return MAX_LINE


E = TypeVar("E", bound=enum.Enum)


def enum_codes(proto_enum: Any, domain: type[E]) -> dict[Any, E]:
    """A proto enum's codes to the domain enum's members of the same name, the proto's
    prefix aside (CHANNEL_PHONE: Channel.PHONE; the prefix is that of the zero value,
    CHANNEL_UNSPECIFIED, which names no member). Every member needs its code: one
    added to the domain alone stops the import. (`Any`: the generated stubs give each
    proto enum, and its codes, a type of their own.)"""
    prefix = proto_enum.Name(0).removesuffix("UNSPECIFIED")
    return {proto_enum.Value(prefix + member.name): member for member in domain}


def timestamp_error(stamp: Any) -> str | None:
    if not 0 <= stamp.nanos <= _MAX_NANOS:
        return f"nanos must be between 0 and {_MAX_NANOS}"
    if not _MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS:
        return "must lie between the years 1 and 9999"
    return None


def moment(message: Message, field: str, *, path: str = "") -> datetime | None:
    """A Timestamp field as an aware UTC datetime to the millisecond (what the database
    keeps), None when unset; one out of range raises InvalidArgument naming it."""
    if not message.HasField(field):
        return None
    stamp = getattr(message, field)
    problem = timestamp_error(stamp)
    if problem:
        raise InvalidArgument([FieldError(path or field, problem)])
    # Built by hand: near the ends of the range the epoch arithmetic is still exact.
    whole = _EPOCH + timedelta(seconds=stamp.seconds)
    return whole + timedelta(milliseconds=stamp.nanos // 1_000_000)


def timestamp(moment: datetime | None) -> Timestamp | None:
    """An instant as a Timestamp for a reply, None (the field left unset) for none; a
    naive datetime, as the driver hands back, is taken as UTC."""
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def same_fields(source: Any, names: str) -> dict[str, Any]:
    """The attributes `names` (separated by spaces) of `source`, as the keyword
    arguments of a message whose fields of the same names take them as they are:
    a reply names once what it copies unchanged and spells out only what it converts.
    (The message refuses a name it has no field for, and a value of the wrong type.)"""
    return {name: getattr(source, name) for name in names.split()}


def plain_struct(struct: struct_pb2.Struct, *, field: str) -> dict[str, Any]:
    """A Struct as Python data (whole numbers as int), refused as safe_json refuses."""
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    # Iterative: protobuf parses Structs up to 100 levels, deeper than our stack wants.
    pending: list[tuple[Any, Any, Any, str, int]] = [
        (key, value, out, f"{field}.{key[:64]}", 1) for key, value in struct.fields.items()
    ]
    while pending and len(errors) < MAX_ERRORS:
        key, value, parent, path, depth = pending.pop()
        if depth > safe_json.MAX_DEPTH:
            errors.append(FieldError(field, f"is nested more than {safe_json.MAX_DEPTH} deep"))
            break
        kind = value.WhichOneof("kind")
        item: Any
        if kind == "number_value":
            number = value.number_value
            if not math.isfinite(number):
                errors.append(FieldError(path, "is not a finite number"))
                continue
            if abs(number) >= safe_json.LARGEST:
                errors.append(FieldError(path, "is a number too large"))
                continue
            item = int(number) if number.is_integer() else number
        elif kind == "string_value":
            item = value.string_value
        elif kind == "bool_value":
            item = value.bool_value
        elif kind == "struct_value":
            item = {}
            pending.extend(
                (k, v, item, f"{path}.{k[:64]}", depth + 1)
                for k, v in value.struct_value.fields.items()
            )
        elif kind == "list_value":
            item = [None] * len(value.list_value.values)
            pending.extend(
                (i, v, item, f"{path}[{i}]", depth + 1)
                for i, v in enumerate(value.list_value.values)
            )
        else:
            item = None
        parent[key] = item
    if errors:
        raise InvalidArgument(errors)
    safe_json.check_value(out, field=field)
    return out


def check_request(message: Message) -> None:
    """Refuse a request whose fields break the ceilings above, naming each field."""
    errors: list[FieldError] = []
    _check(message, "", errors, 0)
    if errors:
        raise InvalidArgument(errors[:MAX_ERRORS])


def _check(message: Message, prefix: str, errors: list[FieldError], depth: int) -> None:
    if depth > 16:
        errors.append(FieldError(prefix.rstrip(".") or "request", "is nested too deep"))
        return
    for descriptor, value in message.ListFields():
        if len(errors) >= MAX_ERRORS:
            return
        name = descriptor.name
        path = prefix + name
        repeated = descriptor.is_repeated
        if repeated:
            most = ITEM_LIMITS.get(name, MAX_ITEMS)
            if len(value) > most:
                errors.append(FieldError(path, f"at most {most} items"))
                continue
        items = list(value) if repeated else [value]
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if repeated else path
            if descriptor.type == FieldDescriptor.TYPE_STRING:
                _check_string(name, item, where, errors)
            elif descriptor.message_type is not None:
                full_name = descriptor.message_type.full_name
                if full_name == "google.protobuf.Timestamp":
                    problem = timestamp_error(item)
                    if problem:
                        errors.append(FieldError(where, problem))
                elif full_name == "google.protobuf.Struct":
                    try:
                        plain_struct(item, field=where)
                    except InvalidArgument as refused:
                        errors.extend(refused.errors)
                elif not full_name.startswith("google.protobuf."):
                    _check(item, where + ".", errors, depth + 1)


def _check_string(name: str, value: str, path: str, errors: list[FieldError]) -> None:
    most = _string_limit(name)
    if len(value) > most:
        errors.append(FieldError(path, f"at most {most} characters"))
        return
    problem = text_error(value, multiline=name in FREE_TEXT_FIELDS or name in DOCUMENT_FIELDS)
    if problem:
        errors.append(FieldError(path, problem))


S = TypeVar("S", bound=type)


def guard_requests(servicer: S) -> S:
    """Class decorator: every RPC method the servicer defines checks its request first."""
    for name, method in list(vars(servicer).items()):
        if name.startswith("_") or not inspect.isfunction(method):
            continue
        if len(inspect.signature(method).parameters) != 3:
            continue
        setattr(servicer, name, _guarded(method))
    return servicer


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, request: Any, context: Any) -> Any:
        if isinstance(request, Message):
            check_request(request)
        return method(self, request, context)

    return call

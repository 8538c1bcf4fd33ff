"""Errors every service raises from its domain or repositories.

Pure Python on purpose: domain modules import these without pulling in grpc. Their
translation to gRPC status codes and details lives in rpc_errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# An error may quote what was sent; a caller who sent a megabyte gets back a line.
MAX_FIELD_PATH = 200
MAX_DESCRIPTION = 200
MAX_LISTED = 50


def clip(value: object, most: int = 100) -> str:
    """`value` as text short enough to echo back in an error message."""
    text = str(value)
    if len(text) <= most:
        return text
    return f"{text[:most]}... ({len(text)} characters)"


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; `field` is a dotted path such as person.given_name.
    Both are clipped on construction, so no answer echoes more than a line of input."""

    field: str
    description: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", clip(self.field, MAX_FIELD_PATH))
        object.__setattr__(self, "description", clip(self.description, MAX_DESCRIPTION))


class CaseworkError(Exception):
    code = "INTERNAL"


class InvalidArgument(CaseworkError):
    code = "INVALID_ARGUMENT"

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)[:MAX_LISTED]
        summary = "; ".join(f"{e.field}: {e.description}" for e in self.errors)
        super().__init__(f"invalid input: {summary}")


class NotFound(CaseworkError):
    code = "NOT_FOUND"


class PermissionDenied(CaseworkError):
    code = "PERMISSION_DENIED"


class Unauthenticated(CaseworkError):
    code = "UNAUTHENTICATED"


class AlreadyExists(CaseworkError):
    """What the caller asked to create exists already; `field` names the input that
    collides (an idempotency key reused with other content), when there is one."""

    code = "ALREADY_EXISTS"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class FailedPrecondition(CaseworkError):
    """The request is well formed but the current state forbids it; `field` names the
    input it conflicts with, when there is one."""

    code = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Conflict(CaseworkError):
    """A concurrent change won; the caller may retry."""

    code = "ABORTED"


def raise_if_any(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidArgument(errors)

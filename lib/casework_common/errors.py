"""Errors every service raises from its domain or repositories.

Pure Python on purpose: domain modules import these without pulling in grpc. Their
translation to gRPC status codes and details lives in rpc_errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; `field` is a dotted path such as person.given_name."""

    field: str
    description: str


class CaseworkError(Exception):
    code = "INTERNAL"


class InvalidArgument(CaseworkError):
    code = "INVALID_ARGUMENT"

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        summary = "; ".join(f"{e.field}: {e.description}" for e in self.errors)
        super().__init__(f"invalid input: {summary}")


class NotFound(CaseworkError):
    code = "NOT_FOUND"


class PermissionDenied(CaseworkError):
    code = "PERMISSION_DENIED"


class Unauthenticated(CaseworkError):
    code = "UNAUTHENTICATED"


class AlreadyExists(CaseworkError):
    code = "ALREADY_EXISTS"


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

"""How casework errors reach a gRPC caller: a status code plus, for bad input,
google.rpc.BadRequest details naming each field."""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from casework_common.errors import (
    AlreadyExists,
    CaseworkError,
    FailedPrecondition,
    InvalidArgument,
    clip,
)

# A status travels in the trailers, which grpc refuses past 8 KiB (the caller then sees
# RESOURCE_EXHAUSTED instead of the refusal). The message is sent percent-encoded: a
# character outside printable ASCII costs three bytes per UTF-8 byte, so an echoed
# emoji costs twelve. Both budgets count what goes on the wire, not characters.
MAX_MESSAGE = 1000
# The serialized google.rpc.Status (sent base64-encoded: a third more).
MAX_DETAILS = 3000


def status_code(error: CaseworkError) -> grpc.StatusCode:
    return grpc.StatusCode[error.code]


def _wire_size(char: str) -> int:
    return 1 if " " <= char <= "~" and char != "%" else 3 * len(char.encode("utf-8", "replace"))


def clip_for_header(value: object, most: int = MAX_MESSAGE) -> str:
    """`value` as text whose percent-encoded form fits in `most` bytes, clipped with
    the number of characters left out."""
    text = clip(value, most)
    if sum(map(_wire_size, text)) <= most:
        return text
    budget = most - 40  # room for the note of what was left out
    kept = 0
    while budget >= _wire_size(text[kept]):
        budget -= _wire_size(text[kept])
        kept += 1
    return f"{text[:kept]}... ({len(str(value))} characters)"


def _details(error: CaseworkError, message: str) -> list[any_pb2.Any]:
    if isinstance(error, InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=e.field, description=e.description
                    )
                    for e in error.errors
                ]
            )
        )
        return [detail]
    if isinstance(error, FailedPrecondition | AlreadyExists) and error.field:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="STATE" if isinstance(error, FailedPrecondition) else "ALREADY_EXISTS",
                        subject=clip(error.field, 200),
                        description=message,
                    )
                ]
            )
        )
        return [detail]
    return []


def _fitted(status: status_pb2.Status) -> status_pb2.Status:
    """`status` with as many field violations as fit in MAX_DETAILS (at least one):
    a caller who got fifty fields wrong reads the first of them, not an error about
    the size of the error."""
    if status.ByteSize() <= MAX_DETAILS or not status.details:
        return status
    bad = error_details_pb2.BadRequest()
    if not status.details[0].Unpack(bad):
        return status
    while len(bad.field_violations) > 1:
        del bad.field_violations[-1]
        status.details[0].Pack(bad)
        if status.ByteSize() <= MAX_DETAILS:
            break
    return status


def to_status(error: CaseworkError) -> grpc.Status:
    """Build the rich status (code, message, details) for an error, small enough for
    the trailers whatever the error quotes."""
    code_value: int = status_code(error).value[0]
    message = clip_for_header(error)
    status = status_pb2.Status(code=code_value, message=message, details=_details(error, message))
    return rpc_status.to_status(_fitted(status))


def abort(context: grpc.ServicerContext, error: CaseworkError) -> NoReturn:
    context.abort_with_status(to_status(error))
    raise AssertionError("abort_with_status always raises")


def precondition_subjects(error: grpc.RpcError) -> dict[str, str]:
    """Read the PreconditionFailure details of a failed call: subject -> type."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    out: dict[str, str] = {}
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            out.update({v.subject: v.type for v in failure.violations})
    return out


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """Read the BadRequest details of a failed call (for clients and tests)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    out: dict[str, str] = {}
    if status is None:
        return out
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for violation in bad.field_violations:
                out[violation.field] = violation.description
    return out


# What a called service answers for a record that is not there, or not its caller's
# to see (an id it cannot read answers the same).
ABSENT = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)


def call_failure(error: grpc.RpcError) -> tuple[grpc.StatusCode | None, str]:
    """The code and details of a failed call; no code when it never reached a server."""
    if isinstance(error, grpc.Call):
        return error.code(), error.details() or ""
    return None, str(error)

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

# A status message travels in a header: kept well below any proxy's or client's limit.
MAX_MESSAGE = 1000


def status_code(error: CaseworkError) -> grpc.StatusCode:
    return grpc.StatusCode[error.code]


def to_status(error: CaseworkError) -> grpc.Status:
    """Build the rich status (code, message, details) for an error."""
    code_value: int = status_code(error).value[0]
    status = status_pb2.Status(code=code_value, message=clip(error, MAX_MESSAGE))
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
        status.details.append(detail)
    elif isinstance(error, FailedPrecondition | AlreadyExists) and error.field:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="STATE" if isinstance(error, FailedPrecondition) else "ALREADY_EXISTS",
                        subject=clip(error.field, 200),
                        description=clip(error, MAX_MESSAGE),
                    )
                ]
            )
        )
        status.details.append(detail)
    return rpc_status.to_status(status)


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

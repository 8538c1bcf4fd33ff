"""Specification of how casework errors reach a gRPC caller."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from casework_common import errors
from casework_common.errors import (
    AlreadyExists,
    CaseworkError,
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from casework_common.rpc_errors import abort, field_violations, status_code, to_status

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def create_invalid_argument() -> InvalidArgument:
    return InvalidArgument(
        [
            FieldError("person.given_name", "is required"),
            FieldError("contact.email", "is not an e-mail address"),
        ]
    )


def rich_status(status: grpc.Status) -> status_pb2.Status:
    details = dict(status.trailing_metadata)[STATUS_DETAILS_KEY]
    return status_pb2.Status.FromString(details)


class FailedCall(grpc.RpcError):
    """What a client sees when a call ends with `status` (a grpc.Call double)."""

    def __init__(self, status: grpc.Status) -> None:
        self._status = status

    def code(self) -> grpc.StatusCode:
        return self._status.code

    def details(self) -> str:
        return self._status.details

    def trailing_metadata(self) -> Any:
        return self._status.trailing_metadata


class AbortingContext:
    """The part of grpc.ServicerContext that abort() uses."""

    def __init__(self) -> None:
        self.status: grpc.Status | None = None

    def abort_with_status(self, status: grpc.Status) -> None:
        self.status = status
        raise RuntimeError("aborted")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CaseworkError("boom"), grpc.StatusCode.INTERNAL),
        (create_invalid_argument(), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (PermissionDenied("x"), grpc.StatusCode.PERMISSION_DENIED),
        (Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED),
        (AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
        (FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (Conflict("x"), grpc.StatusCode.ABORTED),
    ],
)
def test_each_error_maps_to_its_status_code(error: CaseworkError, code: grpc.StatusCode) -> None:
    assert status_code(error) is code
    status = to_status(error)
    assert status.code is code
    assert status.details == str(error)


def test_every_error_class_of_the_library_has_a_grpc_status_code() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, CaseworkError)
    ]

    assert len(classes) >= 8
    for cls in classes:
        assert cls.code in grpc.StatusCode.__members__, cls.__name__


def test_invalid_argument_carries_bad_request_field_violations() -> None:
    status = to_status(create_invalid_argument())

    rich = rich_status(status)
    assert rich.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert rich.message == (
        "invalid input: person.given_name: is required; contact.email: is not an e-mail address"
    )
    assert len(rich.details) == 1
    bad_request = error_details_pb2.BadRequest()
    assert rich.details[0].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("person.given_name", "is required"),
        ("contact.email", "is not an e-mail address"),
    ]


@pytest.mark.parametrize("error", [NotFound("client cl-1 not found"), Conflict("changed")])
def test_other_errors_carry_no_details(error: CaseworkError) -> None:
    assert list(rich_status(to_status(error)).details) == []


def test_a_client_reads_the_field_violations_back() -> None:
    call = FailedCall(to_status(create_invalid_argument()))

    assert field_violations(call) == {
        "person.given_name": "is required",
        "contact.email": "is not an e-mail address",
    }


def test_a_failure_without_details_has_no_field_violations() -> None:
    assert field_violations(FailedCall(to_status(NotFound("x")))) == {}


def test_abort_ends_the_call_with_the_rich_status() -> None:
    context = AbortingContext()

    with pytest.raises(RuntimeError, match="aborted"):
        abort(context, NotFound("referral ref-1 not found"))  # type: ignore[arg-type]

    assert context.status is not None
    assert context.status.code is grpc.StatusCode.NOT_FOUND
    assert context.status.details == "referral ref-1 not found"


def test_a_failed_precondition_names_the_field_it_conflicts_with() -> None:
    status = to_status(errors.FailedPrecondition("status: already terminated", field="status"))
    decoded = status_pb2.Status.FromString(
        dict(status.trailing_metadata)["grpc-status-details-bin"]
    )
    failure = error_details_pb2.PreconditionFailure()
    decoded.details[0].Unpack(failure)
    assert [(v.type, v.subject) for v in failure.violations] == [("STATE", "status")]


def test_an_already_exists_names_the_field_that_collides() -> None:
    status = to_status(errors.AlreadyExists("idempotency_key reused", field="idempotency_key"))
    decoded = status_pb2.Status.FromString(
        dict(status.trailing_metadata)["grpc-status-details-bin"]
    )
    failure = error_details_pb2.PreconditionFailure()
    decoded.details[0].Unpack(failure)
    assert [(v.type, v.subject) for v in failure.violations] == [
        ("ALREADY_EXISTS", "idempotency_key")
    ]


def test_an_error_echoes_at_most_a_line_of_what_was_sent() -> None:
    megabyte = "x" * 1_000_000
    error = InvalidArgument(
        [FieldError(f"answers.{megabyte}", f"{megabyte!r} is not a choice")] * 10_000
    )
    status = to_status(error)
    rich = rich_status(status)
    assert len(status.details) < 2_000
    assert len(rich.SerializeToString()) < 100_000
    bad = error_details_pb2.BadRequest()
    rich.details[0].Unpack(bad)
    assert 0 < len(bad.field_violations) <= errors.MAX_LISTED
    assert all(len(v.description) <= 400 for v in bad.field_violations)
    assert all(len(v.field) <= 300 for v in bad.field_violations)


def test_any_refusal_s_message_is_clipped_before_it_is_sent() -> None:
    status = to_status(NotFound(f"client {'x' * 1_000_000} not found"))
    assert len(status.details) < 2_000
    precondition = to_status(FailedPrecondition("y" * 1_000_000, field="z" * 1_000_000))
    assert len(rich_status(precondition).SerializeToString()) < 5_000


GRPC_TRAILER_LIMIT = 8 * 1024


def wire_size_of_trailers(status: grpc.Status) -> int:
    """Bytes the status costs in the trailers: the message percent-encoded, binary
    metadata base64-encoded (what grpc counts against its 8 KiB limit)."""
    message = sum(
        1 if " " <= c <= "~" and c != "%" else 3 * len(c.encode()) for c in status.details
    )
    metadata = sum(len(key) + (len(value) * 4 + 2) // 3 for key, value in status.trailing_metadata)
    return message + metadata


@pytest.mark.parametrize(
    "error",
    [
        NotFound(f"client {'😀' * 1000} not found"),
        FailedPrecondition(f"{'ž' * 5000}: not now", field="😀" * 5000),
        AlreadyExists("😀" * 5000, field="idempotency_key"),
        InvalidArgument([FieldError(f"answers.{'😀' * 300}", "😀" * 300)] * 50),
    ],
    ids=["not-found", "failed-precondition", "already-exists", "fifty-fields"],
)
def test_a_refusal_quoting_wide_characters_still_fits_the_trailers(
    error: CaseworkError,
) -> None:
    # Past the limit the caller would see RESOURCE_EXHAUSTED instead of the refusal.
    status = to_status(error)

    assert wire_size_of_trailers(status) < GRPC_TRAILER_LIMIT * 3 // 4
    assert status.code is status_code(error)
    assert "characters)" in status.details


def test_a_caller_who_got_many_fields_wrong_reads_the_first_of_them() -> None:
    error = InvalidArgument(
        [FieldError(f"answers.q{n}", f"{'😀' * 150} is not a choice") for n in range(50)]
    )

    bad = error_details_pb2.BadRequest()
    rich_status(to_status(error)).details[0].Unpack(bad)

    assert 1 <= len(bad.field_violations) < 50
    assert bad.field_violations[0].field == "answers.q0"

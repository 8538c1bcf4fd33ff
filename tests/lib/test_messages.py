"""Specification of what every gRPC request must satisfy before a servicer reads it,
and of the converters from protobuf's well-known types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import struct_pb2

from casework.clients.v1 import clients_pb2
from casework.intake.v1 import intake_pb2
from casework_common.errors import InvalidArgument
from casework_common.messages import (
    MAX_ID,
    MAX_ITEMS,
    check_request,
    guard_requests,
    moment,
    plain_struct,
)


def refused_fields(check: Any, *args: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        check(*args, **kwargs)
    return {e.field: e.description for e in raised.value.errors}


def create_plan(**overrides: Any) -> intake_pb2.PlanOutreachRequest:
    request = intake_pb2.PlanOutreachRequest(
        worker_id="w-anna", centre_id="ctr-north-town", place="Market", description="Visit"
    )
    for key, value in overrides.items():
        setattr(request, key, value)
    return request


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (-62_135_596_801, 0),
        (253_402_300_800, 0),
        (2**62, 0),
        (0, -1),
        (0, 1_000_000_000),
    ],
)
def test_a_timestamp_a_datetime_cannot_hold_is_refused_naming_its_field(
    seconds: int, nanos: int
) -> None:
    request = create_plan()
    request.planned_at.seconds, request.planned_at.nanos = seconds, nanos
    assert set(refused_fields(moment, request, "planned_at")) == {"planned_at"}
    assert set(refused_fields(check_request, request)) == {"planned_at"}


def test_a_timestamp_reads_as_utc_to_the_millisecond_even_at_the_ends_of_the_range() -> None:
    request = create_plan()
    request.planned_at.seconds, request.planned_at.nanos = 253_402_300_799, 999_999_999
    assert moment(request, "planned_at") == datetime(9999, 12, 31, 23, 59, 59, 999_000, UTC)
    request.planned_at.seconds, request.planned_at.nanos = -62_135_596_800, 0
    assert moment(request, "planned_at") == datetime(1, 1, 1, tzinfo=UTC)
    assert moment(create_plan(), "planned_at") is None


def test_an_ordinary_request_passes() -> None:
    check_request(create_plan())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("worker_id", "w" * (MAX_ID + 1)),
        ("place", "Market\x00"),
        ("place", "Market\nSquare"),
        ("description", "Visit \u202eevil"),
        ("description", "x" * 10_001),
        ("idempotency_key", "k" * 1_000_000),
    ],
)
def test_an_oversized_or_hostile_string_is_refused_naming_its_field(field: str, value: str) -> None:
    refused = refused_fields(check_request, create_plan(**{field: value}))
    assert set(refused) == {field}
    assert len(refused[field]) < 200


def test_free_text_keeps_its_line_breaks() -> None:
    check_request(create_plan(description="Visit\nthe market\twith leaflets"))


def test_a_repeated_field_holds_at_most_its_limit_of_items() -> None:
    request = intake_pb2.CreateProjectRequest(name="Fair", members=["w-anna"] * (MAX_ITEMS + 1))
    assert set(refused_fields(check_request, request)) == {"members"}


def test_a_nested_message_is_named_by_its_path() -> None:
    request = intake_pb2.SubmitReferralRequest(person=intake_pb2.Person(given_name="A\x00"))
    assert set(refused_fields(check_request, request)) == {"person.given_name"}
    update = clients_pb2.UpdateClientRequest(
        changes=clients_pb2.ClientChanges(
            contacts=[clients_pb2.ContactPoint(value="ok"), clients_pb2.ContactPoint(label="\x01")]
        )
    )
    assert set(refused_fields(check_request, update)) == {"changes.contacts[1].label"}


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"household": float("nan")}, "answers.household"),
        ({"household": float("inf")}, "answers.household"),
        ({"household": -float("inf")}, "answers.household"),
        ({"household": 2.0**63}, "answers.household"),
        ({"list": [1, {"deep": float("nan")}]}, "answers.list[1].deep"),
        ({"note": "a\x00"}, "answers.note"),
    ],
)
def test_a_struct_with_what_no_store_keeps_is_refused_naming_the_value(
    data: dict[str, Any], field: str
) -> None:
    assert set(refused_fields(plain_struct, _struct(data), field="answers")) == {field}


def test_a_struct_reads_whole_numbers_as_int() -> None:
    data = {"n": 2.0, "x": 2.5, "l": [1.0, "a", True, None], "m": {"k": 3.0}}
    assert plain_struct(_struct(data), field="answers") == {
        "n": 2,
        "x": 2.5,
        "l": [1, "a", True, None],
        "m": {"k": 3},
    }


def test_a_guarded_servicer_checks_each_request_before_its_method_runs() -> None:
    ran: list[str] = []

    @guard_requests
    class Servicer:
        def PlanOutreach(self, request: Any, context: Any) -> str:
            ran.append(request.place)
            return "planned"

    assert Servicer().PlanOutreach(create_plan(), None) == "planned"
    assert set(refused_fields(Servicer().PlanOutreach, create_plan(place="\x00"), None)) == {
        "place"
    }
    assert ran == ["Market"]

"""feedback's audit trail read through the running api process: a manager (or a
data-protection officer) pages through who read or changed clients' complaints within
their own centres; nobody else reads it, and another centre's trail is never shown."""

from __future__ import annotations

import secrets
from typing import Any

import grpc
import pytest

from casework.feedback.v1 import feedback_pb2 as fb
from casework.feedback.v1 import feedback_pb2_grpc
from casework_common.rpc_errors import field_violations
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, stub

pytestmark = pytest.mark.e2e

MANAGER_NORTH = auth(
    create_token(subject="w-manager-north", centres=["ctr-north-town"], roles=["manager"])
)
MANAGER_SOUTH = auth(
    create_token(subject="w-manager-south", centres=["ctr-south-city"], roles=["manager"])
)
OFFICER_NORTH = auth(
    create_token(subject="w-dpo", centres=["ctr-north-town"], roles=["data_protection_officer"])
)
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
PARTNER = auth(
    create_partner_token(scopes=["casework.feedback.v1.FeedbackService/ListAuditEntries"])
)


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    return suite_factory(("feedback",))


@pytest.fixture(scope="module")
def feedback(suite: Suite) -> Any:
    return stub(suite, "feedback", feedback_pb2_grpc.FeedbackServiceStub)


def create_complaint(feedback: Any, who: Any = ANNA, **overrides: Any) -> fb.Complaint:
    values: dict[str, Any] = {
        "centre_id": "ctr-north-town",
        "kind": "complaint",
        "channel": "letter",
        "subject": "service",
        "client_id": f"cl-{secrets.token_hex(4)}",
        "text": "Nobody called me back.",
    }
    values.update(overrides)
    return feedback.RecordComplaint(fb.RecordComplaintRequest(**values), metadata=who).complaint


def trail(feedback: Any, who: Any = MANAGER_NORTH, **request: Any) -> fb.ListAuditEntriesResponse:
    return feedback.ListAuditEntries(fb.ListAuditEntriesRequest(**request), metadata=who)


def refusal(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    return refused.value


def test_a_manager_reads_who_recorded_read_and_answered_a_complaint_newest_first(
    feedback: Any,
) -> None:
    complaint = create_complaint(feedback)
    feedback.GetComplaint(
        fb.GetComplaintRequest(complaint_id=complaint.complaint_id), metadata=ANNA
    )
    feedback.AnswerComplaint(
        fb.AnswerComplaintRequest(complaint_id=complaint.complaint_id, text="We will call."),
        metadata=MANAGER_NORTH,
    )
    found = trail(feedback, record_id=complaint.complaint_id).entries
    assert [(e.action, e.subject) for e in found] == [
        ("complaint.answered", "w-manager-north"),
        ("complaint.read", "w-anna"),
        ("complaint.recorded", "w-anna"),
    ]
    assert {(e.client_id, e.centre_id) for e in found} == {(complaint.client_id, "ctr-north-town")}
    assert all(e.at.seconds for e in found)
    officer = trail(feedback, OFFICER_NORTH, client_id=complaint.client_id).entries
    assert [e.action for e in officer] == [e.action for e in found]


def test_the_trail_comes_a_page_at_a_time(feedback: Any) -> None:
    client_id = f"cl-{secrets.token_hex(4)}"
    for _ in range(3):
        create_complaint(feedback, client_id=client_id)
    first = trail(feedback, client_id=client_id, page_size=2)
    assert len(first.entries) == 2 and first.next_page_token
    second = trail(feedback, client_id=client_id, page_size=2, page_token=first.next_page_token)
    assert len(second.entries) == 1 and not second.next_page_token
    records = {e.record_id for e in (*first.entries, *second.entries)}
    assert len(records) == 3


def test_another_centres_manager_sees_none_of_the_trail_and_cannot_name_the_centre(
    feedback: Any,
) -> None:
    complaint = create_complaint(feedback)
    assert list(trail(feedback, MANAGER_SOUTH, client_id=complaint.client_id).entries) == []
    assert list(trail(feedback, MANAGER_SOUTH, record_id=complaint.complaint_id).entries) == []
    named = refusal(lambda: trail(feedback, MANAGER_SOUTH, centre_id="ctr-north-town"))
    assert named.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        (PARTNER, grpc.StatusCode.PERMISSION_DENIED),
        (ANNA, grpc.StatusCode.PERMISSION_DENIED),
        (ILZE, grpc.StatusCode.PERMISSION_DENIED),
    ],
    ids=["anonymous", "partner", "case-worker", "other-centre-worker"],
)
def test_nobody_but_a_manager_or_officer_reads_the_trail(
    feedback: Any, who: Any, code: grpc.StatusCode
) -> None:
    create_complaint(feedback)
    assert refusal(lambda: trail(feedback, who)).code() == code


def test_bad_paging_is_refused_naming_the_field(feedback: Any) -> None:
    refused = refusal(lambda: trail(feedback, page_size=1000, page_token="not-ours"))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(refused)) >= {"page_size", "page_token"}

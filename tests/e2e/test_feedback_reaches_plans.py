"""feedback and plans through their running processes: a complaint about a client's
service recorded in feedback ends up on that client's plan in plans, in the
responsible worker's due work, until the plan is reviewed; and a monitoring contact in
person recorded in plans is a visit to feedback, drawn into the phone-survey sample
(every visit is drawn here, at once), while a contact by phone is not."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

import pytest

from casework.feedback.v1 import feedback_pb2 as fb
from casework.feedback.v1 import feedback_pb2_grpc
from casework.plans.v1 import plans_pb2 as pb
from casework.plans.v1 import plans_pb2_grpc
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub
from casework_dev.testing.plans import create_plan_request, sign_both

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    return suite_factory(
        ("plans", "feedback"),
        env={
            "FEEDBACK_SAMPLE_CHECK_INTERVAL": "0.3",
            "FEEDBACK_SAMPLE_AFTER_SECONDS": "0",
            "FEEDBACK_PHONE_SAMPLE_RATE": "1",
        },
    )


@pytest.fixture(scope="module")
def plans(suite: Suite) -> Any:
    return stub(suite, "plans", plans_pb2_grpc.PlansServiceStub)


@pytest.fixture(scope="module")
def feedback(suite: Suite) -> Any:
    return stub(suite, "feedback", feedback_pb2_grpc.FeedbackServiceStub)


def pending(plans: Any, plan_id: str) -> list[pb.ReviewRequest]:
    plan = plans.GetPlan(pb.GetPlanRequest(plan_id=plan_id), metadata=ANNA).plan
    return [r for r in plan.review_requests if r.pending]


def due_kinds(plans: Any, plan_id: str) -> set[str]:
    items = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=ANNA).items
    return {i.kind for i in items if i.plan_id == plan_id}


def test_a_complaint_about_a_clients_service_shows_on_the_plan_until_it_is_reviewed(
    plans: Any, feedback: Any
) -> None:
    client_id = f"client-{secrets.token_hex(6)}"
    plan = sign_both(
        plans, plans.CreatePlan(create_plan_request(client_id=client_id), metadata=ANNA).plan, ANNA
    )
    complaint = feedback.RecordComplaint(
        fb.RecordComplaintRequest(
            centre_id="ctr-north-town", kind="complaint", channel="letter", subject="service",
            client_id=client_id, text="The meals come cold and late.",
        ),
        metadata=ANNA,
    ).complaint  # fmt: skip

    [request] = eventually(lambda: pending(plans, plan.plan_id))
    assert (request.source, request.source_id) == ("complaint", complaint.complaint_id)
    assert "review_requested" in due_kinds(plans, plan.plan_id)

    plans.ReviewPlan(
        pb.ReviewPlanRequest(plan_id=plan.plan_id, outcome="meals moved to another kitchen"),
        metadata=ANNA,
    )
    assert pending(plans, plan.plan_id) == []
    assert "review_requested" not in due_kinds(plans, plan.plan_id)


def phone_surveys(feedback: Any, client_id: str) -> list[fb.FollowUpCall]:
    found = feedback.ListFollowUpCalls(
        fb.ListFollowUpCallsRequest(centre_id="ctr-north-town"), metadata=ANNA
    ).calls
    return [c for c in found if c.client_id == client_id and c.kind == "phone_survey"]


def record_contact(plans: Any, plan_id: str, mode: int) -> None:
    plans.RecordMonitoringContact(
        pb.RecordMonitoringContactRequest(
            plan_id=plan_id, contacted_on=date.today().isoformat(), mode=mode, notes="all well"
        ),
        metadata=ANNA,
    )


def test_a_monitoring_contact_in_person_is_a_visit_sampled_for_a_phone_survey(
    plans: Any, feedback: Any
) -> None:
    by_phone = sign_both(plans, plans.CreatePlan(create_plan_request(), metadata=ANNA).plan, ANNA)
    in_person = sign_both(plans, plans.CreatePlan(create_plan_request(), metadata=ANNA).plan, ANNA)
    record_contact(plans, by_phone.plan_id, pb.CONTACT_MODE_PHONE)
    record_contact(plans, in_person.plan_id, pb.CONTACT_MODE_IN_PERSON)

    [call] = eventually(lambda: phone_surveys(feedback, in_person.client_id))
    assert call.occasion_id.startswith("contact-") and call.status == "pending"
    # Both contacts went through the same queue in order: the phone one was let go.
    assert phone_surveys(feedback, by_phone.client_id) == []

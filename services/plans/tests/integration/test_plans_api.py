"""PlansService through the running api and events processes, on real MongoDB-wire
storage and RabbitMQ: a plan drafted, signed into effect, reviewed; deliveries checked
against what was planned; due work raised once; and every bad input refused with its
field, changing nothing."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import kombu
import pymongo
import pytest

from casework.plans.v1 import plans_pb2 as pb
from casework_common.envelope import Actor, EventEnvelope
from casework_common.messaging import EVENT_CONTENT_TYPE
from casework_common.rpc_errors import field_violations, precondition_subjects
from casework_common.unit_of_work import SystemActor, Trace, UnitsOfWork
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually
from casework_dev.testing.plans import (
    Captured,
    create_content_message,
    create_plan_request,
    sign_both,
)
from casework_feedback.use_cases.plan_review import plan_review_requested

ORG = "org-demo"
ANNA = auth(create_token())
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
MANAGER = auth(
    create_token(subject="w-manager-north", roles=["manager"],
                 centres=["ctr-north-town", "ctr-north-village"])
)  # fmt: skip
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    """The timer ticks often here: due work and missed deliveries raised within a test."""
    yield suite_factory(("plans",), env={"PLANS_DUE_WORK_CHECK_INTERVAL": "0.3"})


def publish_status(suite: Suite, client_id: str, status: str, from_status: str = "") -> None:
    envelope = EventEnvelope(
        type="clients.client.status_changed", version=1, organisation=ORG,
        actor=Actor("system", "clients"),
        payload={"client_id": client_id, "from_status": from_status, "status": status,
                 "reason": "", "effective_on": TODAY.isoformat(), "source": "manual",
                 "actor": "w-anna", "episode": 1, "explanation": "", "region_id": "reg-north",
                 "centre_ids": ["ctr-north-town"]},
    )  # fmt: skip
    publish(suite, "clients", envelope)


def publish(suite: Suite, service: str, envelope: EventEnvelope) -> None:
    """Publish as `service`'s broker user, as that service's relay does."""
    with kombu.Connection(suite.amqp_uris[service]) as connection:
        kombu.Producer(connection.default_channel).publish(
            envelope.to_json(), exchange="casework.events",
            routing_key=f"{envelope.type}.v{envelope.version}", content_type=EVENT_CONTENT_TYPE,
            content_encoding="binary", delivery_mode=2, user_id=connection.userid,
        )  # fmt: skip


def heard(suite: Suite, client_id: str, status: str) -> None:
    """Wait until plans' read model holds the client's status."""
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    try:
        db = client[f"{suite.env['MONGO_DB_PREFIX']}_plans"]
        eventually(lambda: db.client_status.find_one({"client_id": client_id, "status": status}))
    finally:
        client.close()


def create(plans: Any, **overrides: Any) -> pb.Plan:
    return plans.CreatePlan(create_plan_request(**overrides), metadata=ANNA).plan


def in_effect(plans: Any, **overrides: Any) -> pb.Plan:
    return sign_both(plans, create(plans, **overrides), ANNA)


def refused(call: Any, request: Any, metadata: Any = ANNA) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata)
    return caught.value


def get(plans: Any, plan_id: str) -> pb.Plan:
    return plans.GetPlan(pb.GetPlanRequest(plan_id=plan_id), metadata=ANNA).plan


# ------------------------------------------------------------------ the plan's life


def test_a_plan_signed_by_both_is_in_effect_and_announces_its_state(
    plans: Any, captured: Captured
) -> None:
    plan = create(plans)
    assert plan.status == "draft"
    signed = sign_both(plans, plan, ANNA)
    assert signed.status == "in_effect"
    event = eventually(lambda: captured.of("plans.plan.signed", plan_id=plan.plan_id))[0]
    assert event["payload"]["in_effect"] is True
    assert event["payload"]["next_review_on"] == signed.versions[0].content.next_review_on


def test_a_retried_creation_answers_the_first_plan(plans: Any) -> None:
    request = create_plan_request()
    first = plans.CreatePlan(request, metadata=ANNA)
    again = plans.CreatePlan(request, metadata=ANNA)
    assert again.replayed and again.plan.plan_id == first.plan.plan_id


def test_a_review_makes_a_new_version_and_its_signing_supersedes_the_old(
    plans: Any, captured: Captured
) -> None:
    plan = in_effect(plans)
    reviewed = plans.ReviewPlan(
        pb.ReviewPlanRequest(plan_id=plan.plan_id, outcome="eats well, keep going"),
        metadata=ANNA,
    ).plan
    assert [v.status for v in reviewed.versions] == ["in_effect", "draft"]
    signed = sign_both(plans, reviewed, ANNA)
    assert [v.status for v in signed.versions] == ["superseded", "in_effect"]
    assert signed.versions[0].review_outcome == "eats well, keep going"
    eventually(lambda: captured.of("plans.plan.superseded", plan_id=plan.plan_id, version=1))


def test_closing_announces_that_no_plan_is_in_effect(plans: Any, captured: Captured) -> None:
    plan = in_effect(plans)
    closed = plans.ClosePlan(
        pb.ClosePlanRequest(plan_id=plan.plan_id, evaluation="moved to a care home"),
        metadata=ANNA,
    ).plan
    assert closed.status == "closed" and list(closed.closure.not_reached) == ["eat-well"]
    event = eventually(lambda: captured.of("plans.plan.closed", plan_id=plan.plan_id))[0]
    assert event["payload"]["in_effect"] is False
    # A new plan may start once the old one is closed; the client's plans list both.
    again = create(plans, client_id=plan.client_id)
    listed = plans.ListPlans(pb.ListPlansRequest(client_id=plan.client_id), metadata=ANNA).plans
    assert [p.plan_id for p in listed] == [again.plan_id, plan.plan_id]
    assert list(plans.ListPlans(pb.ListPlansRequest(client_id=plan.client_id),
                                metadata=ILZE).plans) == []  # fmt: skip


def test_a_client_with_an_open_plan_gets_no_second_one(plans: Any) -> None:
    plan = create(plans)
    error = refused(plans.CreatePlan, create_plan_request(client_id=plan.client_id))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert set(precondition_subjects(error)) == {"client_id"}


# ------------------------------------------------------------------ delivered against planned


def test_a_delivery_after_the_client_left_service_user_is_flagged(
    plans: Any, suite: Suite, captured: Captured
) -> None:
    plan = in_effect(plans)
    publish_status(suite, plan.client_id, "terminated", from_status="service_user")
    heard(suite, plan.client_id, "terminated")
    answer = plans.RecordDelivery(
        pb.RecordDeliveryRequest(plan_id=plan.plan_id, service_code="meals",
                                 delivered_on=TODAY.isoformat(), quantity=3,
                                 delivered_by="Charity kitchen", receipt="R-late"),
        metadata=ANNA,
    )  # fmt: skip
    assert [d.kind for d in answer.raised] == ["after_service_end"]

    eventually(lambda: captured.of("plans.discrepancy.raised", plan_id=plan.plan_id,
                                   kind="after_service_end"))  # fmt: skip


def test_a_csv_lists_bad_rows_by_line_and_keeps_the_good_ones(plans: Any) -> None:
    plan = in_effect(plans)
    rows = [
        "plan_id,service_code,delivered_on,quantity,delivered_by,receipt",
        f"{plan.plan_id},meals,{TODAY.isoformat()},3,Charity kitchen,R-1",
        f"{plan.plan_id},laundry,{TODAY.isoformat()},1,Charity kitchen,R-2",
        f"{plan.plan_id},meals,not-a-day,3,Charity kitchen,R-3",
    ]
    answer = plans.ImportDeliveries(
        pb.ImportDeliveriesRequest(csv="\n".join(rows).encode()), metadata=ANNA
    )
    assert answer.good_rows_kept and answer.rows_kept == 1
    assert {(e.line, e.field) for e in answer.errors} == {(3, "service_code"), (4, "delivered_on")}
    assert [d.receipt for d in get(plans, plan.plan_id).deliveries] == ["R-1"]


def test_an_all_or_nothing_csv_with_a_bad_row_keeps_nothing(plans: Any) -> None:
    plan = in_effect(plans)
    rows = [
        "plan_id,service_code,delivered_on,quantity,delivered_by,receipt",
        f"{plan.plan_id},meals,{TODAY.isoformat()},3,Charity kitchen,R-1",
        f"{plan.plan_id},meals,{TODAY.isoformat()},0,Charity kitchen,R-2",
    ]
    answer = plans.ImportDeliveries(
        pb.ImportDeliveriesRequest(csv="\n".join(rows).encode(), all_or_nothing=True),
        metadata=ANNA,
    )
    assert not answer.good_rows_kept and answer.rows_kept == 0
    assert [(e.line, e.field) for e in answer.errors] == [(3, "quantity")]
    assert list(get(plans, plan.plan_id).deliveries) == []


# ------------------------------------------------------------------ monitoring and due work


def test_a_missed_contact_is_raised_once_and_listed_as_due_work(
    plans: Any, captured: Captured
) -> None:
    plan = in_effect(plans)
    plans.RecordMonitoringContact(
        pb.RecordMonitoringContactRequest(plan_id=plan.plan_id,
                                          contacted_on=(TODAY - timedelta(days=20)).isoformat(),
                                          mode=pb.CONTACT_MODE_PHONE, notes="all well",
                                          goal_ids=["eat-well"]),
        metadata=ANNA,
    )  # fmt: skip
    eventually(lambda: captured.of("plans.monitoring.contact_recorded", plan_id=plan.plan_id))
    missed = eventually(lambda: captured.of("plans.monitoring.missed", plan_id=plan.plan_id))
    assert missed[0]["payload"]["worker_id"] == "w-anna"
    due = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=ANNA).items
    assert ("monitoring_missed", plan.plan_id) in {(i.kind, i.plan_id) for i in due}
    centre = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=MANAGER).items
    assert plan.plan_id in {i.plan_id for i in centre}
    # Later ticks of the timer raise it no more: a later event (another plan's) comes
    # after it, and this plan's stays one.
    other = in_effect(plans)
    plans.RecordMonitoringContact(
        pb.RecordMonitoringContactRequest(plan_id=other.plan_id,
                                          contacted_on=(TODAY - timedelta(days=20)).isoformat(),
                                          mode=pb.CONTACT_MODE_IN_PERSON),
        metadata=ANNA,
    )  # fmt: skip
    eventually(lambda: captured.of("plans.monitoring.missed", plan_id=other.plan_id))
    eventually(lambda: captured.of("plans.monitoring.missed", plan_id=other.plan_id) and
               len(captured.of("plans.monitoring.missed", plan_id=other.plan_id)) == 1 and
               len(captured.of("plans.monitoring.missed", plan_id=plan.plan_id)) == 1)  # fmt: skip
    assert len(captured.of("plans.monitoring.missed", plan_id=plan.plan_id)) == 1


def test_a_contact_falling_due_and_a_near_review_are_raised_for_the_worker(
    plans: Any, captured: Captured
) -> None:
    review_on = (TODAY + timedelta(days=5)).isoformat()
    plan = in_effect(plans, content=create_content_message(next_review_on=review_on))
    plans.RecordMonitoringContact(
        pb.RecordMonitoringContactRequest(plan_id=plan.plan_id,
                                          contacted_on=(TODAY - timedelta(days=13)).isoformat(),
                                          mode=pb.CONTACT_MODE_IN_PERSON),
        metadata=ANNA,
    )  # fmt: skip
    due = eventually(lambda: captured.of("plans.monitoring.due", plan_id=plan.plan_id))
    assert due[0]["payload"]["due_on"] == (TODAY + timedelta(days=1)).isoformat()
    review = eventually(lambda: captured.of("plans.review.due", plan_id=plan.plan_id))
    assert review[0]["payload"]["due_on"] == review_on
    listed = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=ANNA).items
    mine = {(i.kind, i.due_on) for i in listed if i.plan_id == plan.plan_id}
    assert mine == {("monitoring_due", due[0]["payload"]["due_on"]), ("review_due", review_on)}


# ------------------------------------------------------------------ decisions, catalogue


def test_a_service_needing_a_decision_is_delivered_only_after_a_managers_approval(
    plans: Any, captured: Captured
) -> None:
    content = create_content_message()
    content.goals[0].actions[0].needs_decision = True
    plan = in_effect(plans, content=content)
    delivery = pb.RecordDeliveryRequest(plan_id=plan.plan_id, service_code="meals",
                                        delivered_on=TODAY.isoformat(), quantity=3,
                                        delivered_by="Charity kitchen", receipt="R-9")  # fmt: skip
    error = refused(plans.RecordDelivery, delivery)
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert list(get(plans, plan.plan_id).deliveries) == []
    plans.RequestDecision(
        pb.RequestDecisionRequest(plan_id=plan.plan_id, service_code="meals"), metadata=ANNA
    )
    eventually(lambda: captured.of("plans.decision.requested", plan_id=plan.plan_id))
    assert refused(plans.DecideService, pb.DecideServiceRequest(
        plan_id=plan.plan_id, service_code="meals", approve=True)).code() is (
        grpc.StatusCode.PERMISSION_DENIED)  # fmt: skip
    plans.DecideService(
        pb.DecideServiceRequest(plan_id=plan.plan_id, service_code="meals", approve=True),
        metadata=MANAGER,
    )
    assert plans.RecordDelivery(delivery, metadata=ANNA).plan.deliveries[0].receipt == "R-9"


def test_a_new_catalogue_service_screens_plans_naming_a_need_it_answers(plans: Any) -> None:
    code = f"day-care-{secrets.token_hex(3)}"
    plan = create(plans)
    plans.AddCatalogueService(
        pb.AddCatalogueServiceRequest(service=pb.CatalogueService(
            service_code=code, name="Day care", how_to_obtain="ask your worker",
            centre_ids=["ctr-north-town"], answers_needs=["company"])),
        metadata=MANAGER,
    )  # fmt: skip
    listed = plans.ListCatalogue(
        pb.ListCatalogueRequest(centre_id="ctr-north-town"), metadata=ANNA
    ).services
    assert code in {s.service_code for s in listed}
    assert code not in {
        s.service_code
        for s in plans.ListCatalogue(
            pb.ListCatalogueRequest(centre_id="ctr-south-city"), metadata=ANNA
        ).services
    }
    hits = plans.ScreenPlansForService(
        pb.ScreenPlansForServiceRequest(service_code=code), metadata=ANNA
    ).hits
    assert (plan.plan_id, "need-day-care") in {(h.plan_id, h.need_id) for h in hits}
    # A plan whose need already waits for the service is found too; a closed one not.
    content = create_content_message()
    content.needs[0].service_codes.append(code)
    del content.needs[1]  # no need of a kind the service answers: found by its code
    waiting = create(plans, content=content)
    closed = create(plans, content=create_content_message(needs=[]))
    plans.ClosePlan(pb.ClosePlanRequest(plan_id=closed.plan_id, evaluation="x"), metadata=ANNA)
    again = plans.ScreenPlansForService(
        pb.ScreenPlansForServiceRequest(service_code=code), metadata=ANNA
    ).hits
    assert (waiting.plan_id, "need-meals") in {(h.plan_id, h.need_id) for h in again}
    assert closed.plan_id not in {h.plan_id for h in again}
    assert plan.plan_id not in {
        h.plan_id
        for h in plans.ScreenPlansForService(
            pb.ScreenPlansForServiceRequest(service_code=code), metadata=ILZE
        ).hits
    }
    entry = plans.PutOnWaitingList(
        pb.PutOnWaitingListRequest(plan_id=plan.plan_id, service_code=code), metadata=ANNA
    ).entry
    assert entry.position == 1
    waiting = plans.GetWaitingList(pb.GetWaitingListRequest(service_code=code), metadata=ANNA)
    assert [e.plan_id for e in waiting.entries] == [plan.plan_id]
    assert list(plans.GetWaitingList(pb.GetWaitingListRequest(service_code=code),
                                     metadata=ILZE).entries) == []  # fmt: skip


# ------------------------------------------------------------------ bad input changes nothing


def fields(error: grpc.RpcError) -> set[str]:
    return set(field_violations(error))


def test_an_action_deadline_before_the_plan_date_is_refused_naming_the_field(plans: Any) -> None:
    content = create_content_message()
    content.goals[0].actions[0].deadline = (TODAY - timedelta(days=1)).isoformat()
    error = refused(plans.CreatePlan, create_plan_request(content=content))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "content.goals[0].actions[0].deadline" in fields(error)


def test_a_responsible_worker_of_another_centre_is_refused(plans: Any) -> None:
    error = refused(plans.CreatePlan, create_plan_request(worker_id="w-ilze"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert fields(error) == {"worker_id"}
    petr = plans.CreatePlan(create_plan_request(worker_id="w-petr"), metadata=ANNA).plan
    assert petr.worker_id == "w-petr"


def test_a_goal_without_an_action_is_not_signed(plans: Any) -> None:
    content = create_content_message()
    del content.goals[0].actions[:]
    plan = create(plans, content=content)
    error = refused(plans.SignPlan, pb.SignPlanRequest(
        plan_id=plan.plan_id, version=1, signer=pb.SIGNER_CLIENT, name="Jana"))  # fmt: skip
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert fields(error) == {"content.goals[0].actions"}
    assert list(get(plans, plan.plan_id).versions[0].signatures) == []


@pytest.mark.parametrize("status", ["rejected", "terminated"])
def test_no_plan_is_signed_for_a_rejected_or_terminated_client(
    plans: Any, suite: Suite, status: str
) -> None:
    plan = create(plans)
    publish_status(suite, plan.client_id, status)
    heard(suite, plan.client_id, status)
    error = refused(plans.SignPlan, pb.SignPlanRequest(
        plan_id=plan.plan_id, version=1, signer=pb.SIGNER_WORKER, name="Anna"))  # fmt: skip
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert set(precondition_subjects(error)) == {"client_id"}
    assert get(plans, plan.plan_id).status == "draft"


def test_editing_a_signed_version_is_refused_and_changes_nothing(plans: Any) -> None:
    plan = in_effect(plans)
    content = create_content_message(reason_for_request="something else")
    error = refused(plans.EditPlanDraft, pb.EditPlanDraftRequest(
        plan_id=plan.plan_id, version=1, content=content))  # fmt: skip
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert set(precondition_subjects(error)) == {"version"}
    assert get(plans, plan.plan_id).versions[0].content.reason_for_request != "something else"


def test_a_review_date_in_the_past_is_refused(plans: Any) -> None:
    content = create_content_message(
        plan_date=(TODAY - timedelta(days=30)).isoformat(),
        next_review_on=(TODAY - timedelta(days=1)).isoformat(),
    )
    error = refused(plans.CreatePlan, create_plan_request(content=content))
    assert fields(error) == {"content.next_review_on"}


def test_a_delivery_of_a_service_not_in_the_plan_is_refused(plans: Any) -> None:
    plan = in_effect(plans)
    error = refused(plans.RecordDelivery, pb.RecordDeliveryRequest(
        plan_id=plan.plan_id, service_code="laundry", delivered_on=TODAY.isoformat(),
        quantity=1, delivered_by="Charity kitchen", receipt="R-1"))  # fmt: skip
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert fields(error) == {"service_code"}
    assert list(get(plans, plan.plan_id).deliveries) == []


def test_an_overspend_is_refused_naming_the_cost(plans: Any) -> None:
    plan = in_effect(plans)
    plans.SetBudget(pb.SetBudgetRequest(
        plan_id=plan.plan_id, holder=pb.BUDGET_HOLDER_CLIENT, holder_name="Jana",
        lines=[pb.BudgetLine(service_code="meals", allotted=1000)]), metadata=ANNA)  # fmt: skip
    request = pb.RecordDeliveryRequest(
        plan_id=plan.plan_id, service_code="meals", delivered_on=TODAY.isoformat(),
        quantity=3, delivered_by="Charity kitchen", receipt="R-1", cost=1500)  # fmt: skip
    error = refused(plans.RecordDelivery, request)
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert set(precondition_subjects(error)) == {"cost"}
    after = get(plans, plan.plan_id)
    assert list(after.deliveries) == [] and after.budget.lines[0].spent == 0
    # A manager's approval of the overspend lets it through.
    plans.RequestDecision(pb.RequestDecisionRequest(
        plan_id=plan.plan_id, service_code="meals", overspend=True), metadata=ANNA)  # fmt: skip
    plans.DecideService(pb.DecideServiceRequest(
        plan_id=plan.plan_id, service_code="meals", approve=True, overspend=True),
        metadata=MANAGER)  # fmt: skip
    spent = plans.RecordDelivery(request, metadata=ANNA).plan.budget.lines[0]
    assert (spent.spent, spent.remaining) == (1500, -500)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe not utf-8", b"", b"plan_id,service_code\nx,y\n", b'plan_id,"unclosed\n'],
)
def test_a_csv_that_does_not_parse_is_refused_and_keeps_nothing(plans: Any, data: bytes) -> None:
    error = refused(plans.ImportDeliveries, pb.ImportDeliveriesRequest(csv=data))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert fields(error) == {"csv"}


def test_another_centres_plan_answers_not_found_for_every_call(plans: Any) -> None:
    plan = in_effect(plans)
    for call, request in [
        (plans.GetPlan, pb.GetPlanRequest(plan_id=plan.plan_id)),
        (plans.SignPlan, pb.SignPlanRequest(plan_id=plan.plan_id, version=1,
                                            signer=pb.SIGNER_CLIENT, name="x")),
        (plans.RecordDelivery, pb.RecordDeliveryRequest(
            plan_id=plan.plan_id, service_code="meals", delivered_on=TODAY.isoformat(),
            quantity=1, delivered_by="x", receipt="r")),
        (plans.ClosePlan, pb.ClosePlanRequest(plan_id=plan.plan_id, evaluation="x")),
    ]:  # fmt: skip
        error = refused(call, request, metadata=ILZE)
        assert error.code() is grpc.StatusCode.NOT_FOUND, call
    missing = refused(plans.GetPlan, pb.GetPlanRequest(plan_id="no-such-plan"), metadata=ILZE)
    assert (
        missing.details().replace("no-such-plan", plan.plan_id)
        == refused(plans.GetPlan, pb.GetPlanRequest(plan_id=plan.plan_id), metadata=ILZE).details()
    )
    rows = "plan_id,service_code,delivered_on,quantity,delivered_by,receipt\n"
    rows += f"{plan.plan_id},meals,{TODAY.isoformat()},3,Kitchen,R-1\n"
    answer = plans.ImportDeliveries(pb.ImportDeliveriesRequest(csv=rows.encode()), metadata=ILZE)
    assert answer.rows_kept == 0 and [(e.line, e.field) for e in answer.errors] == [(2, "plan_id")]
    assert list(get(plans, plan.plan_id).deliveries) == []


__all__ = ["date"]


# ------------------------------------------------------------------ service callers


def service_token(*scopes: str) -> Any:
    """documents' service token: kind `service`, the organisation's centres, the calls named."""
    return auth(
        create_token(
            subject="svc-documents",
            kind="service",
            roles=[],
            centres=["ctr-north-town", "ctr-north-village", "ctr-south-city"],
            scopes=list(scopes),
        )
    )


def test_documents_service_token_lists_a_clients_plans_only_with_the_list_plans_scope(
    plans: Any,
) -> None:
    plan = in_effect(plans)
    listing = pb.ListPlansRequest(client_id=plan.client_id)
    scoped = service_token("casework.plans.v1.PlansService/ListPlans")

    listed = plans.ListPlans(listing, metadata=scoped).plans
    without_scope = refused(
        plans.ListPlans, listing, service_token("casework.clients.v1.ClientsService/GetClient")
    )
    other_call = refused(plans.GetPlan, pb.GetPlanRequest(plan_id=plan.plan_id), scoped)

    assert [p.plan_id for p in listed] == [plan.plan_id]
    assert listed[0].versions[-1].status == "in_effect"
    assert without_scope.code() is grpc.StatusCode.PERMISSION_DENIED
    assert other_call.code() is grpc.StatusCode.PERMISSION_DENIED


# ------------------------------------------------------- reviews feedback asks for


def publish_plan_review_request(
    suite: Suite, client_id: str, source: str = "complaint", source_id: str = ""
) -> EventEnvelope:
    """feedback.plan_review.requested.v1 as feedback's own producer builds it, published
    under feedback's broker user."""
    uow = UnitsOfWork().begin(SystemActor("feedback"), Trace())
    envelope = plan_review_requested(
        ORG, uow, client_id=client_id, centre_id="ctr-north-town", source=source,
        source_id=source_id or f"complaint-{secrets.token_hex(4)}",
        aspects=["attitude"] if source == "response" else [], worker_id="w-anna",
    )  # fmt: skip
    publish(suite, "feedback", envelope)
    return envelope


def pending_requests(plans: Any, plan_id: str) -> list[pb.ReviewRequest]:
    return [r for r in get(plans, plan_id).review_requests if r.pending]


def test_a_complaint_heard_from_feedback_shows_on_the_plan_and_in_due_work_until_reviewed(
    suite: Suite, plans: Any, captured: Captured
) -> None:
    plan = in_effect(plans)
    sent = publish_plan_review_request(suite, plan.client_id, source_id="complaint-rq-1")
    publish_plan_review_request(suite, plan.client_id, source_id="complaint-rq-1")  # again

    [request] = eventually(lambda: pending_requests(plans, plan.plan_id))
    assert (request.source, request.source_id, request.centre_id) == (
        "complaint", "complaint-rq-1", "ctr-north-town",
    )  # fmt: skip
    announced = eventually(lambda: captured.of("plans.review.requested", plan_id=plan.plan_id))
    assert announced[0]["payload"]["worker_id"] == "w-anna"
    assert announced[0]["trace"] == dict(sent.trace)
    due = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=ANNA).items
    assert ("review_requested", plan.plan_id) in {(i.kind, i.plan_id) for i in due}
    managers = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=MANAGER).items
    assert plan.plan_id in {i.plan_id for i in managers if i.kind == "review_requested"}
    others = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=ILZE).items
    assert plan.plan_id not in {i.plan_id for i in others}

    plans.ReviewPlan(pb.ReviewPlanRequest(plan_id=plan.plan_id, outcome="talked it through"),
                     metadata=ANNA)  # fmt: skip
    reviewed = get(plans, plan.plan_id)
    assert [(r.pending, r.answered_in_version) for r in reviewed.review_requests] == [(False, 2)]
    due = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=ANNA).items
    assert ("review_requested", plan.plan_id) not in {(i.kind, i.plan_id) for i in due}
    assert len(captured.of("plans.review.requested", plan_id=plan.plan_id)) == 1


def test_a_negative_answer_on_a_draft_plan_waits_for_the_draft_to_take_effect(
    suite: Suite, plans: Any
) -> None:
    plan = create(plans)
    publish_plan_review_request(suite, plan.client_id, source="response")
    [request] = eventually(lambda: pending_requests(plans, plan.plan_id))
    assert list(request.aspects) == ["attitude"]
    due = plans.ListDueWork(pb.ListDueWorkRequest(), metadata=ANNA).items
    assert ("review_requested", plan.plan_id) in {(i.kind, i.plan_id) for i in due}
    signed = sign_both(plans, plan, ANNA)
    assert [r.answered_in_version for r in signed.review_requests] == [1]


def test_a_review_request_for_a_client_without_an_open_plan_records_nothing(
    suite: Suite, plans: Any, captured: Captured
) -> None:
    closed = in_effect(plans)
    plans.ClosePlan(pb.ClosePlanRequest(plan_id=closed.plan_id, evaluation="moved away"),
                    metadata=ANNA)  # fmt: skip
    publish_plan_review_request(suite, closed.client_id, source_id="complaint-closed")
    publish_plan_review_request(suite, f"client-{secrets.token_hex(4)}")
    # A later request for a client with a plan is recorded: the two before it were
    # handled (in order, on the same queue) without poisoning it.
    marker = in_effect(plans)
    publish_plan_review_request(suite, marker.client_id)
    eventually(lambda: pending_requests(plans, marker.plan_id))
    assert get(plans, closed.plan_id).review_requests == []
    assert captured.of("plans.review.requested", plan_id=closed.plan_id) == []

"""What the workers' console lists through PlansService, on the running processes and
real storage: due work page by page and filtered, waiting lists as clients leave them,
and who may see what."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc

from casework.plans.v1 import plans_pb2 as pb
from casework_common.rpc_errors import field_violations
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually
from casework_dev.testing.plans import (
    create_content_message,
    create_plan_request,
    refused,
    sign_both,
)

TODAY = datetime.now(UTC).date()
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
MANAGER = auth(
    create_token(subject="w-manager-north", roles=["manager"],
                 centres=["ctr-north-town", "ctr-north-village"])
)  # fmt: skip
PARTNER = auth(create_partner_token())


def create_worker() -> Any:
    """A case worker of North Town with a caseload of their own."""
    return auth(create_token(subject=f"w-{secrets.token_hex(4)}"))


def in_effect(plans: Any, worker: Any) -> pb.Plan:
    """A plan of the worker in effect from today, reviewed in half a year."""
    content = create_content_message(next_review_on=(TODAY + timedelta(days=180)).isoformat())
    plan = plans.CreatePlan(create_plan_request(content=content), metadata=worker).plan
    return sign_both(plans, plan, worker)


def every_page(plans: Any, request: pb.ListDueWorkRequest, metadata: Any) -> list[pb.DueItem]:
    items: list[pb.DueItem] = []
    while True:
        page = plans.ListDueWork(request, metadata=metadata)
        items += page.items
        if not page.next_page_token:
            return items
        request.page_token = page.next_page_token


# ------------------------------------------------------------------ due work


LATER = (TODAY + timedelta(days=20)).isoformat()  # every new plan's first contact is missed


def test_due_work_comes_in_pages_by_due_date_then_plan(plans: Any) -> None:
    worker = create_worker()
    ids = sorted(in_effect(plans, worker).plan_id for _ in range(3))
    first = plans.ListDueWork(pb.ListDueWorkRequest(on=LATER, page_size=2), metadata=worker)
    assert [i.plan_id for i in first.items] == ids[:2] and first.next_page_token
    second = plans.ListDueWork(
        pb.ListDueWorkRequest(on=LATER, page_size=2, page_token=first.next_page_token),
        metadata=worker,
    )
    assert [i.plan_id for i in second.items] == ids[2:] and not second.next_page_token
    assert {(i.kind, i.due_on) for i in [*first.items, *second.items]} == {
        ("monitoring_missed", (TODAY + timedelta(days=14)).isoformat())
    }


def test_due_work_is_filtered_by_kind_and_due_date(plans: Any) -> None:
    worker = create_worker()
    plan = in_effect(plans, worker)

    def listed(**filters: Any) -> list[str]:
        request = pb.ListDueWorkRequest(on=LATER, **filters)
        return [i.plan_id for i in plans.ListDueWork(request, metadata=worker).items]

    assert listed(kinds=["monitoring_missed"]) == [plan.plan_id]
    assert listed(kinds=["review_due", "review_overdue"]) == []
    assert listed(due_before=(TODAY + timedelta(days=14)).isoformat()) == []
    assert listed(due_before=(TODAY + timedelta(days=15)).isoformat()) == [plan.plan_id]


def test_a_manager_lists_the_centres_due_work_or_only_their_own(plans: Any) -> None:
    plan = in_effect(plans, create_worker())
    centres = every_page(plans, pb.ListDueWorkRequest(on=LATER, page_size=200), MANAGER)
    own = every_page(plans, pb.ListDueWorkRequest(on=LATER, page_size=200, mine=True), MANAGER)
    assert plan.plan_id in {i.plan_id for i in centres}
    assert plan.plan_id not in {i.plan_id for i in own}
    assert {i.worker_id for i in own} <= {"w-manager-north"}


def test_a_worker_of_another_centre_sees_none_of_the_due_work(plans: Any) -> None:
    plan = in_effect(plans, create_worker())
    others = every_page(plans, pb.ListDueWorkRequest(on=LATER, page_size=200), ILZE)
    assert plan.plan_id not in {i.plan_id for i in others}


def test_a_plan_whose_due_date_changes_moves_in_the_due_work(plans: Any) -> None:
    worker = create_worker()
    first, second = sorted(in_effect(plans, worker).plan_id for _ in range(2))

    def listed(on: str) -> list[tuple[str, str]]:
        request = pb.ListDueWorkRequest(on=on, page_size=200)
        return [(i.plan_id, i.due_on) for i in every_page(plans, request, worker)]

    assert listed(TODAY.isoformat()) == []
    # A contact before the plan took effect counts from its own day: the next one was
    # due six days ago, so the second plan is due now and comes before the first.
    plans.RecordMonitoringContact(
        pb.RecordMonitoringContactRequest(plan_id=second,
                                          contacted_on=(TODAY - timedelta(days=20)).isoformat(),
                                          mode=pb.CONTACT_MODE_PHONE),
        metadata=worker,
    )  # fmt: skip
    six_days_ago = (TODAY - timedelta(days=6)).isoformat()
    assert listed(TODAY.isoformat()) == [(second, six_days_ago)]
    assert listed(LATER) == [
        (second, six_days_ago),
        (first, (TODAY + timedelta(days=14)).isoformat()),
    ]


def test_a_closed_plan_leaves_the_due_work(plans: Any) -> None:
    worker = create_worker()
    kept, closed = (in_effect(plans, worker).plan_id for _ in range(2))
    request = pb.ListDueWorkRequest(on=LATER, page_size=200)
    assert {i.plan_id for i in every_page(plans, request, worker)} == {kept, closed}
    plans.ClosePlan(pb.ClosePlanRequest(plan_id=closed, evaluation="moved away"), metadata=worker)
    request = pb.ListDueWorkRequest(on=LATER, page_size=200)
    assert {i.plan_id for i in every_page(plans, request, worker)} == {kept}


def test_a_partner_and_an_anonymous_caller_are_refused_due_work(plans: Any) -> None:
    assert refused(plans.ListDueWork, pb.ListDueWorkRequest(), PARTNER).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert refused(plans.ListDueWork, pb.ListDueWorkRequest(), None).code() is (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_bad_pages_and_filters_of_due_work_are_refused_naming_the_field(plans: Any) -> None:
    worker = create_worker()
    for request, field in [
        (pb.ListDueWorkRequest(page_token="not-a-token"), "page_token"),
        (pb.ListDueWorkRequest(page_token="x" * 500), "page_token"),
        (pb.ListDueWorkRequest(page_size=201), "page_size"),
        (pb.ListDueWorkRequest(page_size=-1), "page_size"),
        (pb.ListDueWorkRequest(kinds=["monitoring_due", "coffee"]), "kinds[1]"),
        (pb.ListDueWorkRequest(due_before="31.12.2026"), "due_before"),
    ]:
        error = refused(plans.ListDueWork, request, worker)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, field
        assert set(field_violations(error)) == {field}


# ------------------------------------------------------------------ leaving a waiting list


def create_catalogue_service() -> pb.AddCatalogueServiceRequest:
    code = f"day-care-{secrets.token_hex(3)}"
    return pb.AddCatalogueServiceRequest(service=pb.CatalogueService(
        service_code=code, name="Day care", how_to_obtain="ask your worker",
        centre_ids=["ctr-north-town"], answers_needs=["company"]))  # fmt: skip


def waiting_for(plans: Any, worker: Any, count: int) -> tuple[str, list[pb.Plan]]:
    """A new service with `count` clients of the worker waiting for it, in order."""
    code = plans.AddCatalogueService(create_catalogue_service(), metadata=MANAGER).service
    waiting = []
    for days in range(count, 0, -1):
        plan = plans.CreatePlan(create_plan_request(), metadata=worker).plan
        plans.PutOnWaitingList(
            pb.PutOnWaitingListRequest(plan_id=plan.plan_id, service_code=code.service_code,
                                       entered_on=(TODAY - timedelta(days=days)).isoformat()),
            metadata=worker,
        )  # fmt: skip
        waiting.append(plan)
    return code.service_code, waiting


def take_off(plan: pb.Plan, code: str, reason: Any) -> pb.TakeOffWaitingListRequest:
    return pb.TakeOffWaitingListRequest(plan_id=plan.plan_id, service_code=code, reason=reason)


def test_a_client_taken_off_a_waiting_list_is_listed_no_more_and_the_rest_move_up(
    plans: Any, captured: Any
) -> None:
    worker = create_worker()
    code, (first, second, third) = waiting_for(plans, worker, 3)
    left = plans.TakeOffWaitingList(
        take_off(second, code, pb.LEAVE_REASON_SERVICE_STARTED), metadata=worker
    )
    assert (left.position, left.reason, left.replayed) == (2, pb.LEAVE_REASON_SERVICE_STARTED,
                                                            False)  # fmt: skip
    listed = plans.GetWaitingList(pb.GetWaitingListRequest(service_code=code), metadata=worker)
    assert [(e.plan_id, e.position) for e in listed.entries] == [
        (first.plan_id, 1),
        (third.plan_id, 2),
    ]
    event = eventually(lambda: captured.of("plans.waiting_list.left", plan_id=second.plan_id))
    assert event[0]["payload"] == {
        "plan_id": second.plan_id, "client_id": second.client_id, "service_code": code,
        "reason": "service_started", "position": 2, "left_on": TODAY.isoformat(),
        "centre_ids": ["ctr-north-town"],
    }  # fmt: skip


def test_taking_a_client_off_again_answers_the_first_departure_and_announces_it_once(
    plans: Any, captured: Any
) -> None:
    worker = create_worker()
    code, (plan,) = waiting_for(plans, worker, 1)
    request = take_off(plan, code, pb.LEAVE_REASON_DIED)
    first = plans.TakeOffWaitingList(request, metadata=worker)
    again = plans.TakeOffWaitingList(request, metadata=worker)
    assert again.replayed and (again.position, again.left_on) == (first.position, first.left_on)
    other = refused(plans.TakeOffWaitingList, take_off(plan, code, pb.LEAVE_REASON_DECLINED),
                    worker)  # fmt: skip
    assert other.code() is grpc.StatusCode.FAILED_PRECONDITION
    # A later event (another client's departure) comes after this one's, which stays one.
    code2, (later,) = waiting_for(plans, worker, 1)
    plans.TakeOffWaitingList(take_off(later, code2, pb.LEAVE_REASON_DECLINED), metadata=worker)
    eventually(lambda: captured.of("plans.waiting_list.left", plan_id=later.plan_id))
    assert len(captured.of("plans.waiting_list.left", plan_id=plan.plan_id)) == 1


def test_another_centres_worker_cannot_take_a_client_off_and_learns_nothing(plans: Any) -> None:
    worker = create_worker()
    code, (plan,) = waiting_for(plans, worker, 1)
    request = take_off(plan, code, pb.LEAVE_REASON_MOVED_AWAY)
    theirs = refused(plans.TakeOffWaitingList, request, ILZE)
    missing = refused(plans.TakeOffWaitingList,
                      take_off(pb.Plan(plan_id="no-such-plan"), code, pb.LEAVE_REASON_MOVED_AWAY),
                      ILZE)  # fmt: skip
    assert theirs.code() is missing.code() is grpc.StatusCode.NOT_FOUND
    assert theirs.details().replace(plan.plan_id, "no-such-plan") == missing.details()
    assert refused(plans.TakeOffWaitingList, request, PARTNER).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert refused(plans.TakeOffWaitingList, request, None).code() is (
        grpc.StatusCode.UNAUTHENTICATED
    )
    listed = plans.GetWaitingList(pb.GetWaitingListRequest(service_code=code), metadata=worker)
    assert [e.plan_id for e in listed.entries] == [plan.plan_id]


def test_bad_departures_are_refused_naming_the_field_and_change_nothing(plans: Any) -> None:
    worker = create_worker()
    code, (plan,) = waiting_for(plans, worker, 1)
    for request, expected in [
        (take_off(plan, code, pb.LEAVE_REASON_UNSPECIFIED), {"reason"}),
        (take_off(plan, code, 99), {"reason"}),
        (take_off(plan, "", pb.LEAVE_REASON_DECLINED), {"service_code"}),
        (pb.TakeOffWaitingListRequest(), {"plan_id", "service_code", "reason"}),
    ]:
        error = refused(plans.TakeOffWaitingList, request, worker)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, expected
        assert set(field_violations(error)) == expected
    never = plans.CreatePlan(create_plan_request(), metadata=worker).plan
    not_waiting = refused(plans.TakeOffWaitingList,
                          take_off(never, code, pb.LEAVE_REASON_DECLINED), worker)  # fmt: skip
    assert not_waiting.code() is grpc.StatusCode.NOT_FOUND
    listed = plans.GetWaitingList(pb.GetWaitingListRequest(service_code=code), metadata=worker)
    assert [e.plan_id for e in listed.entries] == [plan.plan_id]

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
from casework_dev.testing.helpers import auth
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

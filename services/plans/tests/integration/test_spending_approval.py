"""An organisation that approves each spending item of a personal budget, through the
running processes: a delivery's cost waits for a manager of the plan's centres, who
approves (it is spent) or refuses it with a reason, never on an item of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from casework.plans.v1 import plans_pb2 as pb
from casework_common.config import REPO_ROOT
from casework_common.rpc_errors import field_violations
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually
from casework_dev.testing.plans import create_plan_request, refused, sign_both

TODAY = datetime.now(UTC).date()
ANNA = auth(create_token())
MANAGER = auth(
    create_token(subject="w-manager-north", roles=["manager"],
                 centres=["ctr-north-town", "ctr-north-village"])
)  # fmt: skip
SOUTH_MANAGER = auth(
    create_token(subject="w-manager-south", roles=["manager"], centres=["ctr-south-city"])
)


@pytest.fixture(scope="module")
def suite(suite_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    organisation = json.loads((REPO_ROOT / "config" / "organisation.dev.json").read_text())
    organisation["plans"] = {"approve_each_spending": True}
    path: Path = tmp_path_factory.mktemp("plans-spending") / "organisation.json"
    path.write_text(json.dumps(organisation), encoding="utf-8")
    yield suite_factory(("plans",), env={"CASEWORK_ORGANISATION_FILE": str(path)})


def with_budget(plans: Any) -> pb.Plan:
    """Anna's plan in effect, with 1000 cents for meals."""
    plan = sign_both(plans, plans.CreatePlan(create_plan_request(), metadata=ANNA).plan, ANNA)
    plans.SetBudget(
        pb.SetBudgetRequest(plan_id=plan.plan_id, holder=pb.BUDGET_HOLDER_CLIENT,
                            holder_name="Jana", lines=[pb.BudgetLine(service_code="meals",
                                                                     allotted=1000)]),
        metadata=ANNA,
    )  # fmt: skip
    return plan


def deliver(plans: Any, plan: pb.Plan, metadata: Any = ANNA, cost: int = 300) -> pb.Delivery:
    request = pb.RecordDeliveryRequest(
        plan_id=plan.plan_id, service_code="meals", delivered_on=TODAY.isoformat(), quantity=3,
        delivered_by="Charity kitchen", receipt="R-1", cost=cost,
    )  # fmt: skip
    delivered: pb.Delivery = plans.RecordDelivery(request, metadata=metadata).plan.deliveries[-1]
    return delivered


def decide(plan: pb.Plan, item: pb.Delivery, approve: bool = True, reason: str = "") -> Any:
    return pb.DecideSpendingRequest(
        plan_id=plan.plan_id, delivery_id=item.delivery_id, approve=approve, reason=reason
    )


def line(plan: pb.Plan) -> pb.BudgetLine:
    found: pb.BudgetLine = plan.budget.lines[0]
    return found


def test_a_cost_waits_for_a_manager_and_counts_as_spent_once_approved(
    plans: Any, captured: Any
) -> None:
    plan = with_budget(plans)
    item = deliver(plans, plan)
    assert item.spending == "awaiting" and item.recorded_by == "w-anna"
    waiting = plans.GetPlan(pb.GetPlanRequest(plan_id=plan.plan_id), metadata=ANNA).plan
    assert (line(waiting).spent, line(waiting).awaiting_approval) == (0, 300)
    recorded = eventually(lambda: captured.of("plans.delivery.recorded", plan_id=plan.plan_id))
    assert recorded[0]["payload"]["awaits_approval"] is True
    approved = plans.DecideSpending(decide(plan, item), metadata=MANAGER).plan
    assert (line(approved).spent, line(approved).awaiting_approval) == (300, 0)
    assert approved.deliveries[-1].spending == "approved"
    assert approved.deliveries[-1].spending_decided_by == "w-manager-north"
    event = eventually(lambda: captured.of("plans.spending.decided", plan_id=plan.plan_id))
    assert (event[0]["payload"]["approved"], event[0]["payload"]["cost"]) == (True, "300")


def test_a_refused_cost_spends_nothing_and_keeps_the_delivery_with_its_reason(
    plans: Any,
) -> None:
    plan = with_budget(plans)
    item = deliver(plans, plan)
    no_reason = refused(plans.DecideSpending, decide(plan, item, approve=False), MANAGER)
    assert no_reason.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(no_reason)) == {"reason"}
    answer = plans.DecideSpending(
        decide(plan, item, approve=False, reason="no receipt"), metadata=MANAGER
    ).plan
    assert line(answer).spent == 0 and len(answer.deliveries) == 1
    assert (answer.deliveries[0].spending, answer.deliveries[0].spending_reason) == (
        "refused",
        "no receipt",
    )
    again = refused(plans.DecideSpending, decide(plan, item), MANAGER)
    assert again.code() is grpc.StatusCode.FAILED_PRECONDITION


def test_a_manager_does_not_approve_an_item_they_recorded(plans: Any) -> None:
    plan = with_budget(plans)
    item = deliver(plans, plan, metadata=MANAGER)
    error = refused(plans.DecideSpending, decide(plan, item), MANAGER)
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    stored = plans.GetPlan(pb.GetPlanRequest(plan_id=plan.plan_id), metadata=ANNA).plan
    assert line(stored).spent == 0 and stored.deliveries[0].spending == "awaiting"


def test_only_a_manager_of_the_plans_centres_decides_spending(plans: Any) -> None:
    plan = with_budget(plans)
    item = deliver(plans, plan)
    request = decide(plan, item)
    south = refused(plans.DecideSpending, request, SOUTH_MANAGER)
    missing = refused(
        plans.DecideSpending,
        pb.DecideSpendingRequest(plan_id="no-such-plan", delivery_id="x", approve=True),
        SOUTH_MANAGER,
    )
    assert south.code() is missing.code() is grpc.StatusCode.NOT_FOUND
    assert south.details().replace(plan.plan_id, "no-such-plan") == missing.details()
    assert refused(plans.DecideSpending, request, ANNA).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert refused(plans.DecideSpending, request, auth(create_partner_token())).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert refused(plans.DecideSpending, request, None).code() is (grpc.StatusCode.UNAUTHENTICATED)
    stored = plans.GetPlan(pb.GetPlanRequest(plan_id=plan.plan_id), metadata=ANNA).plan
    assert line(stored).spent == 0


def test_bad_spending_decisions_are_refused_naming_the_field(plans: Any) -> None:
    plan = with_budget(plans)
    error = refused(plans.DecideSpending, pb.DecideSpendingRequest(), MANAGER)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"plan_id", "delivery_id"}
    unknown = refused(
        plans.DecideSpending,
        pb.DecideSpendingRequest(plan_id=plan.plan_id, delivery_id="no-such-delivery",
                                 approve=True),
        MANAGER,
    )  # fmt: skip
    assert unknown.code() is grpc.StatusCode.NOT_FOUND

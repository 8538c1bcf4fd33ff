"""Where the organisation approves each spending item of a personal budget, a
delivery's cost waits for a manager before it counts as spent."""

from __future__ import annotations

from typing import Any

import pytest

from casework_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from casework_dev.testing.plans import NOW, TODAY, create_plan_in_effect
from casework_plans.domain import decisions
from casework_plans.domain import records as plan_records
from casework_plans.domain.plans import BudgetHolder, Delivery, Plan, Spending


def create_delivery(**overrides: Any) -> Delivery:
    values: dict[str, Any] = {
        "delivery_id": "d-1",
        "plan_id": "plan-1",
        "service_code": "meals",
        "delivered_on": TODAY,
        "quantity": 2,
        "delivered_by": "Charity kitchen",
        "receipt": "R-1",
        "cost": 300,
        "recorded_by": "w-anna",
        "recorded_at": NOW,
    }
    values.update(overrides)
    return Delivery(**values)


def with_budget(allotted: int = 1000) -> Plan:
    return decisions.set_budget(
        create_plan_in_effect(), BudgetHolder.CLIENT, "Jana", {"meals": allotted}
    )


def awaiting(plan: Plan | None = None, **overrides: Any) -> Plan:
    return plan_records.record_delivery(
        plan or with_budget(), create_delivery(**overrides), approve_spending=True
    )


def spent(plan: Plan) -> int:
    assert plan.budget is not None
    line = plan.budget.line("meals")
    assert line is not None
    return line.spent


def test_without_the_setting_a_delivery_is_spent_when_recorded() -> None:
    plan = plan_records.record_delivery(with_budget(), create_delivery())
    assert spent(plan) == 300 and plan.deliveries[-1].spending is Spending.NOT_NEEDED


def test_with_the_setting_a_cost_waits_and_is_not_yet_spent() -> None:
    plan = awaiting()
    assert spent(plan) == 0 and plan.deliveries[-1].spending is Spending.AWAITING
    assert decisions.awaiting_approval(plan, "meals") == 300


def test_a_delivery_that_costs_nothing_needs_no_approval() -> None:
    plan = awaiting(cost=0)
    assert plan.deliveries[-1].spending is Spending.NOT_NEEDED


def test_an_approved_item_counts_as_spent_and_says_who_approved_it() -> None:
    plan, item = decisions.decide_spending(awaiting(), "d-1", True, "", by="w-boss", now=NOW)
    assert spent(plan) == 300 and decisions.awaiting_approval(plan, "meals") == 0
    assert (item.spending, item.spending_decided_by, item.spending_decided_at) == (
        Spending.APPROVED,
        "w-boss",
        NOW,
    )
    assert plan.deliveries[-1] == item


def test_a_refused_item_spends_nothing_and_keeps_the_delivery_with_its_reason() -> None:
    plan, item = decisions.decide_spending(
        awaiting(), "d-1", False, "no receipt attached", by="w-boss", now=NOW
    )
    assert spent(plan) == 0 and len(plan.deliveries) == 1
    assert (item.spending, item.spending_reason) == (Spending.REFUSED, "no receipt attached")


def test_a_refusal_needs_its_reason() -> None:
    with pytest.raises(InvalidArgument) as refused:
        decisions.decide_spending(awaiting(), "d-1", False, " ", by="w-boss", now=NOW)
    assert [e.field for e in refused.value.errors] == ["reason"]


def test_nobody_approves_an_item_they_recorded() -> None:
    with pytest.raises(PermissionDenied):
        decisions.decide_spending(awaiting(), "d-1", True, "", by="w-anna", now=NOW)


def test_an_item_is_decided_once() -> None:
    plan, _ = decisions.decide_spending(awaiting(), "d-1", True, "", by="w-boss", now=NOW)
    with pytest.raises(FailedPrecondition) as again:
        decisions.decide_spending(plan, "d-1", False, "changed my mind", by="w-boss", now=NOW)
    assert again.value.field == "delivery_id"


def test_an_item_that_needed_no_approval_cannot_be_decided() -> None:
    plan = plan_records.record_delivery(with_budget(), create_delivery())
    with pytest.raises(FailedPrecondition):
        decisions.decide_spending(plan, "d-1", True, "", by="w-boss", now=NOW)


def test_an_unknown_item_is_not_found() -> None:
    with pytest.raises(NotFound):
        decisions.decide_spending(awaiting(), "d-9", True, "", by="w-boss", now=NOW)


def test_approving_an_item_the_line_no_longer_covers_needs_an_overspend_decision() -> None:
    plan = awaiting(awaiting(with_budget(500)), delivery_id="d-2", cost=400)
    plan, _ = decisions.decide_spending(plan, "d-1", True, "", by="w-boss", now=NOW)
    with pytest.raises(FailedPrecondition) as refused:
        decisions.decide_spending(plan, "d-2", True, "", by="w-boss", now=NOW)
    assert refused.value.field == "delivery_id" and spent(plan) == 300


def test_the_setting_is_per_organisation_and_off_unless_said(tmp_path: Any) -> None:
    import json

    from casework_plans.bootstrap import spending_approval_of

    path = tmp_path / "organisations.json"
    path.write_text(json.dumps([
        {"id": "org-strict", "plans": {"approve_each_spending": True}},
        {"id": "org-plain", "plans": {"reviews_per_year": 2}},
        {"id": "org-bare"},
    ]))  # fmt: skip
    assert spending_approval_of(path) == {"org-strict"}


def test_a_setting_that_is_not_true_or_false_stops_the_start(tmp_path: Any) -> None:
    import json

    from casework_common.config import MissingConfiguration
    from casework_plans.bootstrap import spending_approval_of

    path = tmp_path / "organisation.json"
    path.write_text(json.dumps({"id": "org", "plans": {"approve_each_spending": "yes"}}))
    with pytest.raises(MissingConfiguration):
        spending_approval_of(path)

"""Manager decisions a service needs before it is delivered (or before its deliveries
spend beyond the personal budget's line), and the personal budget itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from casework_common.errors import (
    FailedPrecondition,
    FieldError,
    NotFound,
    PermissionDenied,
    clip,
    raise_if_any,
)
from casework_plans.domain.plans import (
    Budget,
    BudgetHolder,
    BudgetLine,
    Decision,
    DecisionState,
    Delivery,
    Plan,
    Spending,
    code_errors,
    field_text_errors,
    planned_services,
)


def services_needing_decision(plan: Plan) -> list[str]:
    """Services of the version in effect that wait for a manager's decision nobody
    requested yet."""
    effective = plan.in_effect
    if effective is None:
        return []
    return [
        code
        for code, action in planned_services(effective.content).items()
        if action.needs_decision and plan.decision(code) is None
    ]


def request_decision(
    plan: Plan, service_code: str, *, by: str, now: datetime, overspend: bool = False
) -> Plan:
    """Ask a manager to approve a service before it is delivered, or (`overspend`) to
    let its deliveries spend beyond the personal budget's line."""
    content = (plan.in_effect or plan.current).content
    action = planned_services(content).get(service_code)
    if action is None:
        raise_if_any([FieldError("service_code", "is not a service of the plan")])
    if overspend and (plan.budget is None or plan.budget.line(service_code) is None):
        raise_if_any([FieldError("service_code", "has no line in the personal budget")])
    existing = plan.decision(service_code, overspend=overspend)
    if existing is not None and existing.state is not DecisionState.REFUSED:
        raise FailedPrecondition(
            f"a decision on {service_code} is {existing.state.value} already",
            field="service_code",
        )
    decisions = tuple(d for d in plan.decisions if d is not existing)
    asked = Decision(service_code, DecisionState.REQUESTED, by, now, overspend=overspend)
    return replace(plan, decisions=(*decisions, asked))


def decide(
    plan: Plan,
    service_code: str,
    approve: bool,
    reason: str,
    *,
    by: str,
    now: datetime,
    overspend: bool = False,
) -> Plan:
    existing = plan.decision(service_code, overspend=overspend)
    if existing is None:
        raise NotFound(f"no decision on {clip(service_code)} was requested")
    if existing.state is not DecisionState.REQUESTED:
        raise FailedPrecondition(
            f"the decision on {service_code} is {existing.state.value} already",
            field="service_code",
        )
    raise_if_any(field_text_errors("reason", reason, required=not approve))
    decided = replace(
        existing,
        state=DecisionState.APPROVED if approve else DecisionState.REFUSED,
        decided_by=by,
        decided_at=now,
        reason=reason.strip(),
    )
    return replace(plan, decisions=tuple(decided if d is existing else d for d in plan.decisions))


# --------------------------------------------------------------------- budget


def set_budget(
    plan: Plan, holder: BudgetHolder, holder_name: str, allotted: Mapping[str, int]
) -> Plan:
    """Set the budget's holder and lines; money spent so far stays on its line."""
    errors = field_text_errors("holder_name", holder_name, required=True)
    for code, amount in allotted.items():
        errors += code_errors(f"lines[{code}].service_code", code)
        if amount < 0:
            errors.append(FieldError(f"lines[{code}].allotted", "must not be negative"))
    old = plan.budget
    for line in old.lines if old else ():
        if line.spent and line.service_code not in allotted:
            errors.append(FieldError(f"lines[{line.service_code}]", "money was spent on this line"))
    raise_if_any(errors)
    spent = {li.service_code: li.spent for li in old.lines} if old else {}
    lines = tuple(
        BudgetLine(code, amount, spent.get(code, 0)) for code, amount in sorted(allotted.items())
    )
    return replace(plan, budget=Budget(holder, holder_name.strip(), lines))


def budget_refusal(plan: Plan, service_code: str, cost: int, *, overspend_approved: bool) -> str:
    """Why spending `cost` on the service is refused ('' when it may be spent)."""
    if cost <= 0 or plan.budget is None:
        return ""
    line = plan.budget.line(service_code)
    if line is None:
        return f"the personal budget has no line for {service_code}"
    if cost > line.remaining and not overspend_approved:
        return (
            f"{cost} would overspend {service_code}: {line.remaining} of {line.allotted} "
            "remain; a manager's decision is needed"
        )
    return ""


def check_budget(plan: Plan, service_code: str, cost: int, *, field: str) -> None:
    """FAILED_PRECONDITION on `field` when the service's line cannot take `cost` and no
    manager approved overspending it."""
    refusal = budget_refusal(
        plan, service_code, cost, overspend_approved=plan.overspend_approved(service_code)
    )
    if refusal:
        raise FailedPrecondition(refusal, field=field)


def spend(plan: Plan, service_code: str, cost: int) -> Plan:
    if cost <= 0 or plan.budget is None:
        return plan
    lines = tuple(
        replace(li, spent=li.spent + cost) if li.service_code == service_code else li
        for li in plan.budget.lines
    )
    return replace(plan, budget=replace(plan.budget, lines=lines))


def awaiting_approval(plan: Plan, service_code: str) -> int:
    """The money of the service's spending items waiting for a manager."""
    return sum(
        d.cost
        for d in plan.deliveries
        if d.service_code == service_code and d.spending is Spending.AWAITING
    )


def decide_spending(
    plan: Plan, delivery_id: str, approve: bool, reason: str, *, by: str, now: datetime
) -> tuple[Plan, Delivery]:
    """A manager's approval (the cost is spent, within the line unless an overspend was
    approved) or refusal (nothing is spent; the delivery stays recorded) of one spending
    item. Nobody approves an item they recorded themselves."""
    item = next((d for d in plan.deliveries if d.delivery_id == delivery_id), None)
    if item is None:
        raise NotFound(f"plan {plan.plan_id} has no delivery {clip(delivery_id)}")
    if item.spending is not Spending.AWAITING:
        state = "needs no approval" if item.spending is Spending.NOT_NEEDED else (
            f"is {item.spending.value} already"
        )  # fmt: skip
        raise FailedPrecondition(f"the spending of {delivery_id} {state}", field="delivery_id")
    if item.recorded_by == by:
        raise PermissionDenied("a spending item is approved by someone other than who recorded it")
    raise_if_any(field_text_errors("reason", reason, required=not approve))
    if approve:
        check_budget(plan, item.service_code, item.cost, field="delivery_id")
    decided = replace(
        item,
        spending=Spending.APPROVED if approve else Spending.REFUSED,
        spending_decided_by=by,
        spending_decided_at=now,
        spending_reason=reason.strip(),
    )
    changed = spend(plan, item.service_code, item.cost) if approve else plan
    deliveries = tuple(decided if d is item else d for d in changed.deliveries)
    return replace(changed, deliveries=deliveries), decided

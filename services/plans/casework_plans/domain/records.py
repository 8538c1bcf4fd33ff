"""What is recorded on a plan in effect beside its versions: the offer pack handed
over, monitoring contacts, deliveries (after their decision, within their budget line)
and the discrepancies raised from them; and what the timer marks as looked at."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from casework_common.errors import FailedPrecondition, FieldError, NotFound, clip, raise_if_any
from casework_plans.domain.decisions import check_budget, spend
from casework_plans.domain.plans import (
    MAX_ITEMS,
    Contact,
    DecisionState,
    Delivery,
    Discrepancy,
    DiscrepancyState,
    OfferPack,
    Plan,
    RaisedDiscrepancy,
    Spending,
    Version,
    code_errors,
    field_text_errors,
    planned_services,
)


def delivery_refusal(plan: Plan, service_code: str, on: date) -> tuple[str, str]:
    """Why a delivery of `service_code` on `on` may not be recorded, as (field, reason);
    ('', '') when it may."""
    effective = plan.in_effect
    if effective is None:
        return "plan_id", "only a plan in effect has deliveries"
    action = planned_services(effective.content).get(service_code)
    if action is None:
        return "service_code", f"{service_code} is not a service of the plan in effect"
    if action.needs_decision:
        decision = plan.decision(service_code)
        if decision is None or decision.state is not DecisionState.APPROVED:
            state = decision.state.value if decision else "not requested"
            return "service_code", f"{service_code} waits for a manager's decision ({state})"
    return "", ""


def _require_open(plan: Plan) -> Version:
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    effective = plan.in_effect
    if effective is None:
        raise FailedPrecondition("only a plan in effect has this", field="plan_id")
    return effective


def hand_over_offer(plan: Plan, offer: OfferPack) -> Plan:
    """Record the offer pack as handed over to the client (a draft may have it: the
    offer comes before the plan is built)."""
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    errors = field_text_errors("worker_name", offer.worker_name, required=True)
    errors += field_text_errors("worker_phone", offer.worker_phone, required=True)
    if not offer.services:
        errors.append(FieldError("services", "an offer names at least one service"))
    if len(offer.services) > MAX_ITEMS:
        errors.append(FieldError("services", f"at most {MAX_ITEMS}"))
    for i, service in enumerate(offer.services[:MAX_ITEMS]):
        errors += code_errors(f"services[{i}].service_code", service.service_code)
        errors += field_text_errors(f"services[{i}].name", service.name, required=True)
        errors += field_text_errors(
            f"services[{i}].how_to_obtain", service.how_to_obtain, required=True
        )
    raise_if_any(errors)
    return replace(plan, offer=offer)


def record_contact(plan: Plan, contact: Contact) -> Plan:
    """A monitoring contact with the client (the rules of its fields are checked by
    monitoring.check_contact)."""
    _require_open(plan)
    return replace(plan, contacts=(*plan.contacts, contact), checked_on=None)


def record_delivery(plan: Plan, delivery: Delivery, *, approve_spending: bool = False) -> Plan:
    """A delivery of a service of the plan in effect, after its decision, within its
    budget line unless a manager approved overspending it; nothing changes when it is
    refused. Where the organisation approves each spending item (`approve_spending`),
    its cost waits for a manager (decisions.decide_spending) before it is spent."""
    _require_open(plan)
    field_name, reason = delivery_refusal(plan, delivery.service_code, delivery.delivered_on)
    if reason:
        if field_name == "plan_id":
            raise FailedPrecondition(reason, field=field_name)
        if "decision" in reason:
            raise FailedPrecondition(reason, field=field_name)
        raise_if_any([FieldError(field_name, reason)])
    check_budget(plan, delivery.service_code, delivery.cost, field="cost")
    if approve_spending and delivery.cost > 0 and plan.budget is not None:
        awaiting = replace(delivery, spending=Spending.AWAITING)
        return replace(plan, deliveries=(*plan.deliveries, awaiting))
    spent = spend(plan, delivery.service_code, delivery.cost)
    return replace(spent, deliveries=(*spent.deliveries, delivery))


def raise_discrepancies(
    plan: Plan, found: Iterable[Discrepancy], *, now: datetime
) -> tuple[Plan, list[RaisedDiscrepancy]]:
    """Keep the findings not raised before (by their key); answer the new ones, which
    the worker is told of at once."""
    known = {d.discrepancy_id for d in plan.discrepancies}
    new = []
    for finding in found:
        if finding.key in known:
            continue
        known.add(finding.key)
        new.append(RaisedDiscrepancy(finding.key, finding, now))
    if not new:
        return plan, []
    return replace(plan, discrepancies=(*plan.discrepancies, *new)), new


def resolve_discrepancy(
    plan: Plan, discrepancy_id: str, state: DiscrepancyState, note: str, *, by: str, now: datetime
) -> Plan:
    """Acknowledge a discrepancy, or explain it (an explanation needs its words)."""
    existing = next((d for d in plan.discrepancies if d.discrepancy_id == discrepancy_id), None)
    if existing is None:
        raise NotFound(f"plan {plan.plan_id} has no discrepancy {clip(discrepancy_id)}")
    if state is DiscrepancyState.OPEN:
        raise_if_any([FieldError("resolution", "acknowledge or explain")])
    if existing.state is not DiscrepancyState.OPEN:
        raise FailedPrecondition(
            f"discrepancy {discrepancy_id} is {existing.state.value} already",
            field="discrepancy_id",
        )
    errors = field_text_errors("note", note, required=state is DiscrepancyState.EXPLAINED)
    raise_if_any(errors)
    done = replace(existing, state=state, note=note.strip(), resolved_by=by, resolved_at=now)
    return replace(
        plan, discrepancies=tuple(done if d is existing else d for d in plan.discrepancies)
    )


def mark_checked(plan: Plan, today: date) -> Plan:
    return plan if plan.checked_on == today else replace(plan, checked_on=today)


def mark_raised(plan: Plan, keys: Iterable[str]) -> Plan:
    fresh = [k for k in keys if k not in plan.raised]
    if not fresh:
        return plan
    # Only the latest keys matter: a raised item's key names its due date and version.
    return replace(plan, raised=(*plan.raised, *fresh)[-50:])

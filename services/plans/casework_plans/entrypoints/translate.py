"""Requests to commands and domain objects to messages. Reading a request collects
every field error (with its path) before anything runs."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any, TypeVar

from google.protobuf.message import Message

from casework.plans.v1 import plans_pb2
from casework_common.errors import FieldError, raise_if_any
from casework_common.messages import enum_codes, same_fields
from casework_common.messages import timestamp as stamp
from casework_common.values import iso_day
from casework_plans.domain import catalogue, monitoring, plans
from casework_plans.domain.decisions import awaiting_approval
from casework_plans.domain.plans import (
    Action,
    BudgetHolder,
    ContactMode,
    Content,
    DiscrepancyState,
    Frequency,
    Goal,
    Need,
    NeedKind,
    OfferedService,
    OfferPack,
    Period,
    Plan,
    Progress,
    ProviderKind,
    RequestedService,
    Signer,
    Spending,
)

E = TypeVar("E", bound=Enum)

# Each domain enum's proto codes (its member of the same name; 0, UNSPECIFIED, none).
_CODES: dict[type[Enum], dict[Any, Enum]] = {
    kind: enum_codes(proto, kind)
    for kind, proto in (
        (NeedKind, plans_pb2.NeedKind),
        (ProviderKind, plans_pb2.ProviderKind),
        (Period, plans_pb2.Period),
        (Signer, plans_pb2.Signer),
        (Progress, plans_pb2.Progress),
        (BudgetHolder, plans_pb2.BudgetHolder),
        (ContactMode, plans_pb2.ContactMode),
        (catalogue.LeaveReason, plans_pb2.LeaveReason),
    )
}
_NUMBERS = {
    kind: {member: code for code, member in codes.items()} for kind, codes in _CODES.items()
}
# Not enum_codes: a discrepancy's OPEN state is no resolution a worker chooses.
RESOLUTIONS = {
    plans_pb2.RESOLUTION_ACKNOWLEDGED: DiscrepancyState.ACKNOWLEDGED,
    plans_pb2.RESOLUTION_EXPLAINED: DiscrepancyState.EXPLAINED,
}


def to_enum(kind: type[E], number: int) -> E | None:
    """The domain member of a proto code; None for UNSPECIFIED or an unknown code."""
    return _CODES[kind].get(number)  # type: ignore[return-value]


def from_enum(value: Enum) -> Any:
    """The proto enum number of a domain enum value (typed Any: each proto enum has a
    type of its own)."""
    return _NUMBERS[type(value)][value]


class Reader:
    """Collects field errors while reading a request."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def day(self, path: str, raw: str, *, required: bool = True) -> date | None:
        if not raw:
            if required:
                self.errors.append(FieldError(path, "is required (YYYY-MM-DD)"))
            return None
        found = iso_day(raw)
        if found is None:
            self.errors.append(FieldError(path, "is not a date (YYYY-MM-DD)"))
        return found

    def enum(self, path: str, kind: type[E], number: int) -> E | None:
        found = to_enum(kind, number)
        if found is None:
            self.errors.append(FieldError(path, "is required"))
        return found

    def done(self) -> None:
        raise_if_any(self.errors)


def to_content(message: plans_pb2.PlanContent, path: str = "content") -> Content:
    r = Reader()
    plan_date = r.day(f"{path}.plan_date", message.plan_date)
    review = r.day(f"{path}.next_review_on", message.next_review_on)
    needs = []
    for i, n in enumerate(message.needs):
        kind = r.enum(f"{path}.needs[{i}].kind", NeedKind, n.kind)
        needs.append(
            Need(
                n.need_id,
                kind or NeedKind.STATED,
                n.need_code,
                n.description,
                tuple(n.service_codes),
            )
        )
    goals = []
    for i, g in enumerate(message.goals):
        gpath = f"{path}.goals[{i}]"
        target = r.day(f"{gpath}.target_date", g.target_date)
        actions = []
        for j, a in enumerate(g.actions):
            apath = f"{gpath}.actions[{j}]"
            provider = r.enum(f"{apath}.provider", ProviderKind, a.provider)
            frequency = None
            if a.HasField("frequency"):
                per = r.enum(f"{apath}.frequency.per", Period, a.frequency.per)
                frequency = Frequency(a.frequency.amount, per or Period.DAY)
            deadline = r.day(f"{apath}.deadline", a.deadline)
            actions.append(
                Action(
                    a.action_id,
                    a.service_code,
                    a.description,
                    provider or ProviderKind.WORKER,
                    a.provider_name,
                    frequency,
                    deadline or date.min,
                    a.needs_decision,
                )
            )
        goals.append(Goal(g.goal_id, g.description, target or date.min, tuple(actions)))
    r.done()
    assert plan_date is not None and review is not None
    return Content(
        reason_for_request=message.reason_for_request,
        plan_date=plan_date,
        next_review_on=review,
        needs=tuple(needs),
        goals=tuple(goals),
        monitoring_interval_days=message.monitoring_interval_days or 30,
        requested=tuple(RequestedService(q.service_code, q.time_frame) for q in message.requested),
    )


def to_offer(message: plans_pb2.OfferPack, by: str, today: date) -> OfferPack:
    r = Reader()
    on = r.day("offer.handed_over_on", message.handed_over_on, required=False) or today
    if on > today:
        r.errors.append(FieldError("offer.handed_over_on", "is in the future"))
    r.done()
    return OfferPack(
        tuple(OfferedService(s.service_code, s.name, s.how_to_obtain) for s in message.services),
        message.worker_name,
        message.worker_phone,
        on,
        by,
    )


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _set(message: Message, **values: Any) -> None:
    for name, value in values.items():
        if value is not None:
            getattr(message, name).CopyFrom(value)


def content_message(content: Content) -> plans_pb2.PlanContent:
    return plans_pb2.PlanContent(
        reason_for_request=content.reason_for_request,
        plan_date=_day(content.plan_date),
        next_review_on=_day(content.next_review_on),
        needs=[
            plans_pb2.Need(
                **same_fields(n, "need_id need_code description"),
                kind=from_enum(n.kind),
                service_codes=list(n.service_codes),
            )
            for n in content.needs
        ],
        goals=[
            plans_pb2.Goal(
                goal_id=g.goal_id,
                description=g.description,
                target_date=_day(g.target_date),
                actions=[_action_message(a) for a in g.actions],
            )
            for g in content.goals
        ],
        monitoring_interval_days=content.monitoring_interval_days,
        requested=[
            plans_pb2.RequestedService(service_code=q.service_code, time_frame=q.time_frame)
            for q in content.requested
        ],
    )


def _action_message(a: Action) -> plans_pb2.Action:
    message = plans_pb2.Action(
        **same_fields(a, "action_id service_code description provider_name needs_decision"),
        provider=from_enum(a.provider),
        deadline=_day(a.deadline),
    )
    if a.frequency is not None:
        message.frequency.CopyFrom(
            plans_pb2.Frequency(amount=a.frequency.amount, per=from_enum(a.frequency.per))
        )
    return message


def discrepancy_message(d: plans.RaisedDiscrepancy) -> plans_pb2.Discrepancy:
    message = plans_pb2.Discrepancy(
        discrepancy_id=d.discrepancy_id,
        kind=d.found.kind.value,
        service_code=d.found.service_code,
        period_start=_day(d.found.period_start),
        period_end=_day(d.found.period_end),
        planned=d.found.planned,
        delivered=d.found.delivered,
        description=d.found.describe(),
        state=d.state.value,
        note=d.note,
    )
    _set(message, raised_at=stamp(d.raised_at))
    return message


def plan_message(plan: Plan) -> plans_pb2.Plan:
    message = plans_pb2.Plan(
        **same_fields(plan, "plan_id client_id family_id worker_id"),
        centre_ids=list(plan.centre_ids),
        status=(plans.VersionStatus.CLOSED if plan.closure else plan.status).value,
    )
    for v in plan.versions:
        version = message.versions.add(
            number=v.number,
            status=v.status.value,
            content=content_message(v.content),
            created_by=v.created_by,
            review_outcome=v.review_outcome,
        )
        _set(
            version,
            created_at=stamp(v.created_at),
            in_effect_from=stamp(v.in_effect_from),
            ended_at=stamp(v.ended_at),
        )
        for s in v.signatures:
            sig = version.signatures.add(
                signer=from_enum(s.signer), name=s.name, signed_by=s.signed_by
            )
            _set(sig, signed_at=stamp(s.signed_at))
    for p in plan.progress:
        entry = message.progress.add(
            goal_id=p.goal_id,
            progress=from_enum(p.progress),
            note=p.note,
            recorded_by=p.recorded_by,
        )
        _set(entry, recorded_at=stamp(p.recorded_at))
    for d in plan.decisions:
        decision = message.decisions.add(
            service_code=d.service_code,
            state=d.state.value,
            requested_by=d.requested_by,
            decided_by=d.decided_by,
            reason=d.reason,
            overspend=d.overspend,
        )
        _set(decision, requested_at=stamp(d.requested_at), decided_at=stamp(d.decided_at))
    if plan.budget is not None:
        message.budget.CopyFrom(
            plans_pb2.Budget(
                holder=from_enum(plan.budget.holder),
                holder_name=plan.budget.holder_name,
                lines=[
                    plans_pb2.BudgetLine(
                        **same_fields(li, "service_code allotted spent remaining"),
                        awaiting_approval=awaiting_approval(plan, li.service_code),
                    )
                    for li in plan.budget.lines
                ],
            )
        )
    if plan.closure is not None:
        c = plan.closure
        message.closure.CopyFrom(
            plans_pb2.Closure(
                closed_by=c.closed_by,
                evaluation=c.evaluation,
                reached=list(c.reached),
                dropped=list(c.dropped),
                not_reached=list(c.not_reached),
            )
        )
        _set(message.closure, closed_at=stamp(c.closed_at))
    if plan.offer is not None:
        o = plan.offer
        message.offer.CopyFrom(
            plans_pb2.OfferPack(
                services=[
                    plans_pb2.OfferedService(
                        service_code=s.service_code, name=s.name, how_to_obtain=s.how_to_obtain
                    )
                    for s in o.services
                ],
                **same_fields(o, "worker_name worker_phone recorded_by"),
                handed_over_on=_day(o.handed_over_on),
            )
        )
    for de in plan.deliveries:
        delivery = message.deliveries.add(
            delivery_id=de.delivery_id,
            service_code=de.service_code,
            delivered_on=_day(de.delivered_on),
            quantity=de.quantity,
            delivered_by=de.delivered_by,
            receipt=de.receipt,
            cost=de.cost,
            spending="" if de.spending is Spending.NOT_NEEDED else de.spending.value,
            spending_decided_by=de.spending_decided_by,
            spending_reason=de.spending_reason,
            recorded_by=de.recorded_by,
        )
        _set(delivery, spending_decided_at=stamp(de.spending_decided_at))
    for co in plan.contacts:
        message.contacts.add(
            contact_id=co.contact_id,
            contacted_on=_day(co.contacted_on),
            mode=from_enum(co.mode),
            worker_id=co.worker_id,
            notes=co.notes,
            goal_ids=list(co.goal_ids),
        )
    message.discrepancies.extend(discrepancy_message(d) for d in plan.discrepancies)
    message.review_requests.extend(review_request_message(r) for r in plan.review_requests)
    return message


def review_request_message(r: plans.ReviewRequest) -> plans_pb2.ReviewRequest:
    message = plans_pb2.ReviewRequest(
        **same_fields(r, "source source_id centre_id pending answered_by answered_in_version"),
        aspects=list(r.aspects),
    )
    _set(message, requested_at=stamp(r.requested_at), answered_at=stamp(r.answered_at))
    return message


def due_message(item: monitoring.DueItem) -> plans_pb2.DueItem:
    return plans_pb2.DueItem(
        kind=item.kind.value,
        **same_fields(item, "plan_id client_id worker_id version"),
        due_on=_day(item.due_on),
    )


def catalogue_message(s: catalogue.CatalogueService) -> plans_pb2.CatalogueService:
    return plans_pb2.CatalogueService(
        **same_fields(s, "service_code name how_to_obtain"),
        centre_ids=list(s.centre_ids),
        answers_needs=list(s.answers_needs),
    )


def waiting_message(entry: catalogue.Waiting, position: int) -> plans_pb2.WaitingEntry:
    return plans_pb2.WaitingEntry(
        client_id=entry.client_id,
        plan_id=entry.plan_id,
        position=position,
        entered_on=_day(entry.entered_on),
    )


def departure_message(
    departure: catalogue.Departure, service_code: str, replayed: bool
) -> plans_pb2.TakeOffWaitingListResponse:
    return plans_pb2.TakeOffWaitingListResponse(
        **same_fields(departure, "client_id plan_id position"),
        service_code=service_code,
        reason=from_enum(departure.reason),
        left_on=_day(departure.left_on),
        replayed=replayed,
    )

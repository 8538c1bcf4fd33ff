"""The events plans publishes, built from the domain's facts at one seam."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.message import Message

from casework.plans.v1 import events_pb2
from casework_common import unit_of_work
from casework_common.envelope import EventEnvelope
from casework_common.unit_of_work import UnitOfWork
from casework_plans.domain.catalogue import Departure
from casework_plans.domain.monitoring import DueItem, DueKind
from casework_plans.domain.plans import (
    Delivery,
    Plan,
    RaisedDiscrepancy,
    ReviewRequest,
    Spending,
    state_of,
)

DUE_EVENTS: dict[DueKind, type[Message]] = {
    DueKind.MONITORING_DUE: events_pb2.MonitoringDue,
    DueKind.MONITORING_MISSED: events_pb2.MonitoringMissed,
    DueKind.REVIEW_DUE: events_pb2.ReviewDue,
    DueKind.REVIEW_OVERDUE: events_pb2.ReviewOverdue,
}


def event(
    message_type: type[Message], plan: Plan, uow: UnitOfWork, facts: Mapping[str, object]
) -> EventEnvelope:
    return unit_of_work.event(message_type, plan.organisation, uow, facts)


def state_facts(plan: Plan, version: int) -> dict[str, object]:
    state = state_of(plan)
    return {
        "plan_id": plan.plan_id,
        "client_id": plan.client_id,
        "version": version,
        "in_effect": state.in_effect,
        "next_review_on": state.next_review_on.isoformat() if state.next_review_on else "",
        "centre_ids": list(plan.centre_ids),
        "worker_id": plan.worker_id,
    }


def due(item: DueItem, plan: Plan, uow: UnitOfWork) -> EventEnvelope:
    return event(
        DUE_EVENTS[item.kind],
        plan,
        uow,
        {
            "plan_id": item.plan_id,
            "client_id": item.client_id,
            "worker_id": item.worker_id,
            "centre_ids": list(item.centre_ids),
            "due_on": item.due_on.isoformat(),
            "version": item.version,
        },
    )


def discrepancy(raised: RaisedDiscrepancy, plan: Plan, uow: UnitOfWork) -> EventEnvelope:
    found = raised.found
    return event(
        events_pb2.DiscrepancyRaised,
        plan,
        uow,
        {
            "plan_id": plan.plan_id,
            "client_id": plan.client_id,
            "discrepancy_id": raised.discrepancy_id,
            "kind": found.kind.value,
            "service_code": found.service_code,
            "period_start": found.period_start.isoformat(),
            "period_end": found.period_end.isoformat(),
            "planned": found.planned,
            "delivered": found.delivered,
            "worker_id": plan.worker_id,
            "centre_ids": list(plan.centre_ids),
        },
    )


def delivery(d: Delivery, plan: Plan, uow: UnitOfWork) -> EventEnvelope:
    return event(
        events_pb2.DeliveryRecorded,
        plan,
        uow,
        {
            "plan_id": plan.plan_id,
            "client_id": plan.client_id,
            "delivery_id": d.delivery_id,
            "service_code": d.service_code,
            "delivered_on": d.delivered_on.isoformat(),
            "quantity": d.quantity,
            "centre_ids": list(plan.centre_ids),
            "awaits_approval": d.spending is Spending.AWAITING,
        },
    )


def review_requested(request: ReviewRequest, plan: Plan, uow: UnitOfWork) -> EventEnvelope:
    return event(
        events_pb2.ReviewRequested,
        plan,
        uow,
        {
            "plan_id": plan.plan_id,
            "client_id": plan.client_id,
            "worker_id": plan.worker_id,
            "centre_ids": list(plan.centre_ids),
            "source": request.source,
            "source_id": request.source_id,
            "aspects": list(request.aspects),
            "requested_at": request.requested_at.isoformat(),
        },
    )


def waiting_list_left(
    departure: Departure, service_code: str, plan: Plan, uow: UnitOfWork
) -> EventEnvelope:
    return event(
        events_pb2.WaitingListLeft,
        plan,
        uow,
        {
            "plan_id": departure.plan_id,
            "client_id": departure.client_id,
            "service_code": service_code,
            "reason": departure.reason.value,
            "position": departure.position,
            "left_on": departure.left_on.isoformat(),
            "centre_ids": list(departure.centre_ids),
        },
    )

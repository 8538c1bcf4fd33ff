"""What notify reads from intake's, clients' and plans' events: each payload message
turned into the domain's facts. A payload missing what the domain needs is poison
(dead-lettered with the reason), never half-handled."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from casework.clients.v1 import events_pb2 as clients_events
from casework.intake.v1 import events_pb2 as intake_events
from casework.plans.v1 import events_pb2 as plans_events
from casework_common import contracts
from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import PoisonEvent
from casework_notify.domain.client_news import ClientArrived, MatchProposed, SharingRequested
from casework_notify.domain.consent import ConsentChange
from casework_notify.domain.intake_news import OutreachDue, OverdueReferral, TaskNews
from casework_notify.domain.plan_news import PlanNews
from casework_notify.domain.routing import PublishedRules, UnreadableRules, rules_from_payload


def required(what: str, value: str) -> str:
    if not value:
        raise PoisonEvent(f"{what} is empty")
    return value


def centres(values: Iterable[str]) -> tuple[str, ...]:
    named = tuple(values)
    if not named or not all(named):
        raise PoisonEvent(f"centre_ids must name at least one centre, got {list(named)!r}")
    return named


def client_arrived(envelope: EventEnvelope) -> ClientArrived:
    """clients.client.registered.v1 (a new card) or .matched.v1 (a returning client)."""
    returning = envelope.type == "clients.client.matched"
    arrived: clients_events.ClientMatched | clients_events.ClientRegistered = (
        contracts.read(envelope, clients_events.ClientMatched)
        if returning
        else contracts.read(envelope, clients_events.ClientRegistered)
    )
    return ClientArrived(
        event_id=envelope.id,
        organisation=envelope.organisation,
        client_id=required("client_id", arrived.client_id),
        referral_id=arrived.referral_id,
        display_name=arrived.display_name,
        centre_id=arrived.centre_id,
        client_type=arrived.client_type,
        problem_type=arrived.problem_type,
        returning=returning,
    )


def overdue_referral(envelope: EventEnvelope) -> OverdueReferral:
    """intake.referral.first_contact_overdue.v1."""
    overdue = contracts.read(envelope, intake_events.ReferralFirstContactOverdue)
    return OverdueReferral(
        event_id=envelope.id,
        organisation=envelope.organisation,
        referral_id=required("referral_id", overdue.referral_id),
        reference_number=overdue.reference_number,
        centre_id=overdue.centre_id,
        manager_id=required("manager_id", overdue.manager_id),
        client_type=overdue.client_type,
        problem_type=overdue.problem_type,
        due_at=contracts.instant(overdue, "due_at"),
    )


def outreach_due(envelope: EventEnvelope) -> OutreachDue:
    """intake.outreach.reminder_due.v1 / intake.outreach.outcome_due.v1 (one shape)."""
    outcome = envelope.type == "intake.outreach.outcome_due"
    due: intake_events.OutreachOutcomeDue | intake_events.OutreachReminderDue = (
        contracts.read(envelope, intake_events.OutreachOutcomeDue)
        if outcome
        else contracts.read(envelope, intake_events.OutreachReminderDue)
    )
    return OutreachDue(
        event_id=envelope.id,
        organisation=envelope.organisation,
        outreach_id=required("outreach_id", due.outreach_id),
        worker_id=required("worker_id", due.worker_id),
        centre_id=due.centre_id,
        activity_type=due.activity_type,
        planned_at=contracts.instant(due, "planned_at"),
        place=due.place,
        outcome=outcome,
    )


def task_news(envelope: EventEnvelope) -> TaskNews:
    """intake.task.assigned.v1 / intake.task.overdue.v1 (an overdue task names no
    assigner: the assignee is told even of a task they gave themselves)."""
    overdue = envelope.type == "intake.task.overdue"
    news: intake_events.TaskAssigned | intake_events.TaskOverdue = (
        contracts.read(envelope, intake_events.TaskOverdue)
        if overdue
        else contracts.read(envelope, intake_events.TaskAssigned)
    )
    return TaskNews(
        event_id=envelope.id,
        organisation=envelope.organisation,
        project_id=news.project_id,
        project_name=news.project_name,
        centre_id=news.centre_id,
        task_id=required("task_id", news.task_id),
        title=news.title,
        assignee_id=required("assignee_id", news.assignee_id),
        due_at=contracts.instant(news, "due_at"),
        assigned_by="" if isinstance(news, intake_events.TaskOverdue) else news.assigned_by,
        overdue=overdue,
    )


def match_proposed(envelope: EventEnvelope) -> MatchProposed:
    """clients.match.proposed.v1."""
    proposed = contracts.read(envelope, clients_events.MatchProposed)
    return MatchProposed(
        event_id=envelope.id,
        organisation=envelope.organisation,
        proposal_id=required("proposal_id", proposed.proposal_id),
        client_id=required("client_id", proposed.client_id),
        referral_id=proposed.referral_id,
        display_name=proposed.display_name,
        centre_ids=centres(proposed.centre_ids),
        referring_centre_id=proposed.referring_centre_id,
        client_type=proposed.client_type,
        problem_type=proposed.problem_type,
        tell_referring_centre=proposed.tell_referring_centre,
    )


def sharing_requested(envelope: EventEnvelope) -> SharingRequested:
    """clients.sharing.requested.v1."""
    requested = contracts.read(envelope, clients_events.SharingRequested)
    return SharingRequested(
        event_id=envelope.id,
        organisation=envelope.organisation,
        request_id=required("request_id", requested.request_id),
        client_id=required("client_id", requested.client_id),
        centre_ids=centres(requested.centre_ids),
    )


_PLAN_DUE = {
    "plans.monitoring.due": ("monitoring_due", plans_events.MonitoringDue),
    "plans.monitoring.missed": ("monitoring_missed", plans_events.MonitoringMissed),
    "plans.review.due": ("review_due", plans_events.ReviewDue),
    "plans.review.overdue": ("review_overdue", plans_events.ReviewOverdue),
}


def plan_news(envelope: EventEnvelope) -> PlanNews:
    """plans' monitoring/review due and missed, decisions requested and made, and
    discrepancies raised."""
    common: dict[str, Any] = {"event_id": envelope.id, "organisation": envelope.organisation}
    if envelope.type in _PLAN_DUE:
        what, message_type = _PLAN_DUE[envelope.type]
        due: Any = contracts.read(envelope, message_type)
        return PlanNews(
            **common,
            what=what,
            plan_id=required("plan_id", due.plan_id),
            client_id=due.client_id,
            worker_id=required("worker_id", due.worker_id),
            centre_ids=tuple(due.centre_ids),
            due_on=due.due_on,
        )
    if envelope.type == "plans.decision.requested":
        asked = contracts.read(envelope, plans_events.DecisionRequested)
        return PlanNews(
            **common,
            what="decision_requested",
            plan_id=required("plan_id", asked.plan_id),
            client_id=asked.client_id,
            worker_id=asked.worker_id,
            centre_ids=centres(asked.centre_ids),
            service_code=asked.service_code,
            requested_by=asked.requested_by,
            overspend=asked.overspend,
        )
    if envelope.type == "plans.decision.decided":
        made = contracts.read(envelope, plans_events.DecisionMade)
        return PlanNews(
            **common,
            what="decision_made",
            plan_id=required("plan_id", made.plan_id),
            client_id=made.client_id,
            worker_id=required("worker_id", made.worker_id),
            centre_ids=tuple(made.centre_ids),
            service_code=made.service_code,
            approved=made.approved,
            decided_by=made.decided_by,
            overspend=made.overspend,
        )
    raised = contracts.read(envelope, plans_events.DiscrepancyRaised)
    return PlanNews(
        **common,
        what="discrepancy",
        plan_id=required("plan_id", raised.plan_id),
        client_id=raised.client_id,
        worker_id=required("worker_id", raised.worker_id),
        centre_ids=tuple(raised.centre_ids),
        service_code=raised.service_code,
        discrepancy_id=required("discrepancy_id", raised.discrepancy_id),
        discrepancy_kind=raised.kind,
        period=f"{raised.period_start} to {raised.period_end}",
        planned=raised.planned,
        delivered=raised.delivered,
    )


def consent_change(envelope: EventEnvelope) -> ConsentChange:
    """clients.consent.recorded.v1 / .withdrawn.v1 (one shape)."""
    given = envelope.type == "clients.consent.recorded"
    change: clients_events.ConsentRecorded | clients_events.ConsentWithdrawn = (
        contracts.read(envelope, clients_events.ConsentRecorded)
        if given
        else contracts.read(envelope, clients_events.ConsentWithdrawn)
    )
    return ConsentChange(
        organisation=envelope.organisation,
        client_id=required("client_id", change.client_id),
        purpose=required("purpose", change.purpose),
        given=given,
        on=change.on,
        occurred_at=envelope.occurred_at,
        event_id=envelope.id,
    )


def webhook_body(envelope: EventEnvelope) -> bytes:
    """What a partner receives: the event's facts and its payload message in proto3
    JSON (the names as in the proto)."""
    message = contracts.decode(envelope.routing_key, envelope.payload)
    return json.dumps(
        {
            "event_id": envelope.id,
            "event_type": envelope.routing_key,
            "organisation": envelope.organisation,
            "occurred_at": envelope.occurred_at.isoformat(),
            "payload": contracts.encode(message),
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()


def published_rules(envelope: EventEnvelope) -> PublishedRules:
    """intake.routing_rules.published.v1: parsed into its message, then read by the
    same rule that reads the stored rule set (the stored document and the payload have
    one shape), which refuses what the schema cannot: no workers, version 0."""
    message = contracts.read(envelope, intake_events.RoutingRulesPublished)
    try:
        return rules_from_payload(envelope.organisation, contracts.encode(message))
    except UnreadableRules as exc:
        raise PoisonEvent(f"{envelope.routing_key}: {exc}") from None

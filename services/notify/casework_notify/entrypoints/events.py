"""nameko entry point of notify: puts new clients into the responsible workers' inboxes,
keeps the routing rules intake publishes, and tells managers and workers what intake's
timers report: overdue referrals, outreach reminders and outcome requests, and tasks
assigned or overdue."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import eventlet
from nameko.timer import timer

from casework.clients.v1 import events_pb2 as clients_events
from casework.feedback.v1 import events_pb2 as feedback_events
from casework.intake.v1 import events_pb2 as intake_events
from casework.plans.v1 import events_pb2 as plans_events
from casework_common import contracts
from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import (
    EventsService,
    PoisonEvent,
    event_handler,
    exchange_name,
)
from casework_common.organisation import Organisation
from casework_common.storage import now as clock_now
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork
from casework_common.wiring import Wired, Wiring
from casework_notify import services
from casework_notify.adapters.reminders import ReminderRepository
from casework_notify.adapters.webhooks import (
    bind_event_types,
    claim_due_deliveries,
    subscribed_event_types,
)
from casework_notify.bootstrap import Notify, bootstrap
from casework_notify.domain import reminders as reminder_rules
from casework_notify.domain.consent import ConsentChange
from casework_notify.domain.inbox import (
    ClientArrived,
    Link,
    MatchProposed,
    OutreachDue,
    OverdueReferral,
    PlanNews,
    SharingRequested,
    TaskNews,
    plain_notification,
)
from casework_notify.domain.routing import PublishedRules, UnreadableRules, rules_from_payload
from casework_notify.use_cases import emails, people, reminders, webhooks
from casework_notify.use_cases.delivery import Postbox

log = logging.getLogger(__name__)
# How often the timers look for due reminders (their lateness rides on it), and for
# e-mails and webhook deliveries to send. Every look is a query on the shared database
# when nothing is due: a development server shared by the whole suite felt 0.2 s for all
# three (the suite's first referral took 15 s to reach an inbox), so only reminders look
# that often.
TIMER_SECONDS = float(os.environ.get("NOTIFY_TIMER_SECONDS") or 0.25)
SEND_TIMER_SECONDS = float(os.environ.get("NOTIFY_SEND_TIMER_SECONDS") or 1.0)
ESCALATION_TIMER_SECONDS = 5.0
WEBHOOK_CONCURRENCY = 20


def _required(what: str, value: str) -> str:
    if not value:
        raise PoisonEvent(f"{what} is empty")
    return value


def _centres(values: Iterable[str]) -> tuple[str, ...]:
    centres = tuple(values)
    if not centres or not all(centres):
        raise PoisonEvent(f"centre_ids must name at least one centre, got {list(centres)!r}")
    return centres


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
        client_id=_required("client_id", arrived.client_id),
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
        referral_id=_required("referral_id", overdue.referral_id),
        reference_number=overdue.reference_number,
        centre_id=overdue.centre_id,
        manager_id=_required("manager_id", overdue.manager_id),
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
        outreach_id=_required("outreach_id", due.outreach_id),
        worker_id=_required("worker_id", due.worker_id),
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
        task_id=_required("task_id", news.task_id),
        title=news.title,
        assignee_id=_required("assignee_id", news.assignee_id),
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
        proposal_id=_required("proposal_id", proposed.proposal_id),
        client_id=_required("client_id", proposed.client_id),
        referral_id=proposed.referral_id,
        display_name=proposed.display_name,
        centre_ids=_centres(proposed.centre_ids),
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
        request_id=_required("request_id", requested.request_id),
        client_id=_required("client_id", requested.client_id),
        centre_ids=_centres(requested.centre_ids),
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
            plan_id=_required("plan_id", due.plan_id),
            client_id=due.client_id,
            worker_id=_required("worker_id", due.worker_id),
            centre_ids=tuple(due.centre_ids),
            due_on=due.due_on,
        )
    if envelope.type == "plans.decision.requested":
        asked = contracts.read(envelope, plans_events.DecisionRequested)
        return PlanNews(
            **common,
            what="decision_requested",
            plan_id=_required("plan_id", asked.plan_id),
            client_id=asked.client_id,
            worker_id=asked.worker_id,
            centre_ids=_centres(asked.centre_ids),
            service_code=asked.service_code,
            requested_by=asked.requested_by,
            overspend=asked.overspend,
        )
    if envelope.type == "plans.decision.decided":
        made = contracts.read(envelope, plans_events.DecisionMade)
        return PlanNews(
            **common,
            what="decision_made",
            plan_id=_required("plan_id", made.plan_id),
            client_id=made.client_id,
            worker_id=_required("worker_id", made.worker_id),
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
        plan_id=_required("plan_id", raised.plan_id),
        client_id=raised.client_id,
        worker_id=_required("worker_id", raised.worker_id),
        centre_ids=tuple(raised.centre_ids),
        service_code=raised.service_code,
        discrepancy_id=_required("discrepancy_id", raised.discrepancy_id),
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
        client_id=_required("client_id", change.client_id),
        purpose=_required("purpose", change.purpose),
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


class NotifyEvents(EventsService):
    name = "notify"
    casework_service = "notify"
    # Built once per process; every event's worker gets the same wiring.
    wired: Wired[Notify] = Wiring(bootstrap)  # type: ignore[assignment]

    def _organisation(self, envelope: EventEnvelope) -> Organisation:
        organisation = self.wired.app.organisations.get(envelope.organisation)
        if organisation is None:
            raise PoisonEvent(f"organisation {envelope.organisation} is not served here")
        return organisation

    def _unit(self, envelope: EventEnvelope) -> UnitOfWork:
        return self.wired.units.begin(SystemActor("notify"), Trace(envelope.trace))

    def _inboxes(self, envelope: EventEnvelope) -> Postbox:
        return self.wired.app.postbox_of(envelope.organisation)

    def _published(self, envelope: EventEnvelope) -> PublishedRules | None:
        return self.wired.app.published_rules.latest(envelope.organisation)

    @event_handler(
        "notify.tell-responsible-workers",
        ["clients.client.registered.v1", "clients.client.matched.v1"],
    )
    def on_client_arrived(self, envelope: EventEnvelope) -> None:
        organisation = self._organisation(envelope)
        with self._unit(envelope) as uow:
            services.notify_responsible_workers(
                client_arrived(envelope),
                organisation,
                self._inboxes(envelope),
                uow,
                published=self._published(envelope),
            )

    @event_handler("notify.keep-routing-rules", ["intake.routing_rules.published.v1"])
    def on_routing_rules_published(self, envelope: EventEnvelope) -> None:
        self._organisation(envelope)
        published = published_rules(envelope)
        with self._unit(envelope) as uow:
            services.keep_published_rules(published, uow, self.wired.app.published_rules)

    @event_handler("notify.tell-manager-overdue", ["intake.referral.first_contact_overdue.v1"])
    def on_first_contact_overdue(self, envelope: EventEnvelope) -> None:
        with self._unit(envelope) as uow:
            services.tell_manager_of_overdue_referral(
                overdue_referral(envelope),
                self._organisation(envelope),
                self._inboxes(envelope),
                uow,
            )

    @event_handler(
        "notify.tell-worker-outreach",
        ["intake.outreach.reminder_due.v1", "intake.outreach.outcome_due.v1"],
    )
    def on_outreach_due(self, envelope: EventEnvelope) -> None:
        self._organisation(envelope)
        with self._unit(envelope) as uow:
            services.remind_worker_of_outreach(outreach_due(envelope), self._inboxes(envelope), uow)

    @event_handler(
        "notify.tell-assignee-task", ["intake.task.assigned.v1", "intake.task.overdue.v1"]
    )
    def on_task_news(self, envelope: EventEnvelope) -> None:
        self._organisation(envelope)
        with self._unit(envelope) as uow:
            services.tell_assignee_of_task(task_news(envelope), self._inboxes(envelope), uow)

    @event_handler("notify.tell-card-workers-match", ["clients.match.proposed.v1"])
    def on_match_proposed(self, envelope: EventEnvelope) -> None:
        organisation = self._organisation(envelope)
        with self._unit(envelope) as uow:
            services.tell_of_match_proposal(
                match_proposed(envelope),
                organisation,
                self._inboxes(envelope),
                uow,
                published=self._published(envelope),
            )

    @event_handler("notify.tell-manager-sharing", ["clients.sharing.requested.v1"])
    def on_sharing_requested(self, envelope: EventEnvelope) -> None:
        organisation = self._organisation(envelope)
        with self._unit(envelope) as uow:
            services.tell_manager_of_sharing_request(
                sharing_requested(envelope), organisation, self._inboxes(envelope), uow
            )

    @event_handler(
        "notify.tell-plan-news",
        [
            "plans.monitoring.due.v1",
            "plans.monitoring.missed.v1",
            "plans.review.due.v1",
            "plans.review.overdue.v1",
            "plans.decision.requested.v1",
            "plans.decision.decided.v1",
            "plans.discrepancy.raised.v1",
        ],
    )
    def on_plan_news(self, envelope: EventEnvelope) -> None:
        organisation = self._organisation(envelope)
        with self._unit(envelope) as uow:
            services.tell_of_plan_news(
                plan_news(envelope), organisation, self._inboxes(envelope), uow
            )

    @event_handler(
        "notify.keep-consents", ["clients.consent.recorded.v1", "clients.consent.withdrawn.v1"]
    )
    def on_consent_changed(self, envelope: EventEnvelope) -> None:
        self._organisation(envelope)
        self.wired.app.consents.apply(consent_change(envelope))

    # Bound at run time to the event types partners subscribed to (see
    # adapters.webhooks.WEBHOOK_QUEUE), never to every event.
    @event_handler("notify.partner-webhooks", [])
    def on_subscribed_event(self, envelope: EventEnvelope) -> None:
        """An event of a type a partner subscribed to: one delivery per subscription."""
        repository = self.wired.app.webhooks_of(envelope.organisation)
        if not repository.active_for(envelope.routing_key):
            return
        webhooks.fan_out(
            repository,
            event_id=envelope.id,
            event_type=envelope.routing_key,
            body=webhook_body(envelope),
            now=clock_now(),
        )

    # ------------------------------------------------------------------ timers
    # Each runs in every events process; the claims in the database give each item to
    # one of them.

    @timer(interval=TIMER_SECONDS)  # type: ignore[misc]
    def fire_reminders(self) -> None:
        while reminders.fire_due_reminders(clock_now(), self.wired.app.postbox_of) >= 500:
            pass

    @timer(interval=SEND_TIMER_SECONDS)  # type: ignore[misc]
    def send_emails(self) -> None:
        app = self.wired.app
        emails.send_due_emails(
            clock_now(),
            app.emails,
            app.mailer(),
            retry_base=app.config.email_retry_base,
            retry_ceiling=app.config.email_retry_ceiling,
        )

    @timer(interval=SEND_TIMER_SECONDS)  # type: ignore[misc]
    def send_webhooks(self) -> None:
        app = self.wired.app
        claimed = claim_due_deliveries(clock_now(), webhooks_lease(app), 100)
        if not claimed:
            return
        sender = app.http_sender()
        pool = eventlet.GreenPool(WEBHOOK_CONCURRENCY)
        for delivery, subscription, holder in claimed:
            pool.spawn_n(
                webhooks.attempt,
                delivery,
                subscription,
                holder,
                clock_now(),
                sender=sender,
                resolve=app.resolve,
                production=app.settings.production,
                policy=app.config.webhook_policy,
            )
        pool.waitall()

    @timer(interval=30.0)  # type: ignore[misc]
    def bind_subscribed_types(self) -> None:
        """At start and now and then: the api binds a new subscription's type at once,
        this repairs a binding the api could not make (queue not declared yet)."""
        bind_event_types(self.bus.settings.amqp_uri, exchange_name(), subscribed_event_types())

    @timer(interval=ESCALATION_TIMER_SECONDS)  # type: ignore[misc]
    def escalate_unread(self) -> None:
        app = self.wired.app
        people.escalate_unread(
            clock_now(), app.organisations, app.postbox_of, app.escalate_after_of
        )

    # ------------------------------------------------------------------ feedback

    @event_handler(
        "notify.tell-complaints",
        [
            "feedback.complaint.received.v1",
            "feedback.complaint.deadline_approaching.v1",
            "feedback.complaint.deadline_missed.v1",
            "feedback.plan_review.requested.v1",
        ],
    )
    def on_feedback_news(self, envelope: EventEnvelope) -> None:
        """Complaints to the centre's manager (received, answer due soon, deadline
        missed); a plan review asked for to the worker who served the client (the
        centre's duty worker when none is named)."""
        organisation = self._organisation(envelope)
        with self._unit(envelope) as uow:
            self._inboxes(envelope).deliver(
                [feedback_notification(envelope, organisation, uow.now)]
            )

    @event_handler(
        "notify.remind-follow-up-calls",
        ["feedback.call.scheduled.v1", "feedback.call.cancelled.v1"],
    )
    def on_follow_up_call(self, envelope: EventEnvelope) -> None:
        """A follow-up call is a reminder of feedback's, due when the call is; a
        cancelled call's reminder is withdrawn (one that fired stays fired)."""
        self._organisation(envelope)
        repository = ReminderRepository(envelope.organisation, "feedback")
        key, reminder = follow_up_call(envelope)
        if reminder is not None:
            repository.add(reminder)
            return
        existing = repository.find(reminder_rules.reminder_id("feedback", key))
        if existing is not None:
            repository.replace_scheduled(reminder_rules.cancel(existing))


def webhooks_lease(app: Notify) -> timedelta:
    # Longer than a whole batch of hanging endpoints could take.
    return timedelta(seconds=app.config.webhook_timeout * 10 + 30)


def follow_up_call(envelope: EventEnvelope) -> tuple[str, reminder_rules.Reminder | None]:
    """feedback.call.scheduled.v1 (the reminder to keep) or .cancelled.v1 (None: the
    key of the reminder to withdraw)."""
    if envelope.type == "feedback.call.cancelled":
        cancelled = contracts.read(envelope, feedback_events.FollowUpCallCancelled)
        return f"call-{_required('call_id', cancelled.call_id)}", None
    call = contracts.read(envelope, feedback_events.FollowUpCallScheduled)
    key = f"call-{_required('call_id', call.call_id)}"
    links = tuple(
        link
        for link in (Link("follow_up_call", call.call_id), Link("client", call.client_id))
        if link.id
    )
    return key, reminder_rules.Reminder(
        reminder_id=reminder_rules.reminder_id("feedback", key),
        organisation=envelope.organisation,
        owner="feedback",
        key=key,
        worker_id=_required("assignee_id", call.assignee_id),
        due_at=contracts.instant(call, "due_at"),
        kind="follow_up_call_due",
        title=f"Follow-up call due ({call.kind.replace('_', ' ')})",
        body=f"Call the client {call.client_id} (follow-up call {call.call_id}).",
        centre_id=call.centre_id,
        links=links,
        scheduled_at=clock_now(),
    )


_COMPLAINT_NEWS = {
    "feedback.complaint.received": (
        feedback_events.ComplaintReceived,
        "complaint_received",
        "high",
        "New {kind} for {centre}",
    ),
    "feedback.complaint.deadline_approaching": (
        feedback_events.ComplaintDeadlineApproaching,
        "complaint_deadline_approaching",
        "high",
        "Complaint answer due {due}",
    ),
    "feedback.complaint.deadline_missed": (
        feedback_events.ComplaintDeadlineMissed,
        "complaint_deadline_missed",
        "urgent",
        "Complaint unanswered past {due}",
    ),
}


def feedback_notification(envelope: EventEnvelope, organisation: Organisation, now: Any) -> Any:
    if envelope.type == "feedback.plan_review.requested":
        asked = contracts.read(envelope, feedback_events.PlanReviewRequested)
        centre = organisation.centre(asked.centre_id)
        worker = asked.worker_id or (centre.duty_worker if centre else "")
        return plain_notification(
            event_id=envelope.id,
            organisation=envelope.organisation,
            worker_id=_required("worker_id", worker),
            kind="plan_review_requested",
            title="Feedback asks you to review a client's plan",
            body=(
                f"A {asked.source} about client {asked.client_id} asks for a look at their "
                "plan. A signal to look, not a verdict."
            ),
            centre_id=asked.centre_id,
            links=tuple(
                lk
                for lk in (Link("client", asked.client_id), Link(asked.source, asked.source_id))
                if lk.id and lk.kind
            ),
            reason="worker who served the client" if asked.worker_id else "duty worker",
            now=now,
        )
    message_type, kind, priority, title = _COMPLAINT_NEWS[envelope.type]
    news: Any = contracts.read(envelope, message_type)
    due = contracts.instant(news, "answer_due").date().isoformat()
    return plain_notification(
        event_id=envelope.id,
        organisation=envelope.organisation,
        worker_id=_required("manager_id", news.manager_id),
        kind=kind,
        title=title.format(kind=getattr(news, "kind", "complaint"), centre=news.centre_id, due=due),
        body=f"Complaint {news.complaint_id} of {news.centre_id}, to be answered by {due}.",
        centre_id=news.centre_id,
        links=(Link("complaint", _required("complaint_id", news.complaint_id)),),
        reason="manager of the centre",
        now=now,
        # feedback raises the deadline events itself: no escalation of notify's on top.
        priority=priority,
    )

"""nameko entry point of notify: puts new clients into the responsible workers' inboxes,
keeps the routing rules intake publishes, tells managers and workers what intake's,
plans' and feedback's timers report, and sends clients what feedback asks for (a
complaint's answer, a later survey). The payloads are read in entrypoints.payloads and
entrypoints.feedback_payloads."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import eventlet
from nameko.timer import timer

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
from casework_notify.domain.routing import PublishedRules
from casework_notify.entrypoints.feedback_payloads import (
    complaint_answer,
    feedback_notification,
    follow_up_call,
    survey_offer,
)
from casework_notify.entrypoints.payloads import (
    client_arrived,
    consent_change,
    match_proposed,
    outreach_due,
    overdue_referral,
    plan_news,
    published_rules,
    sharing_requested,
    task_news,
    webhook_body,
)
from casework_notify.use_cases import emails, outreach, people, reminders, webhooks
from casework_notify.use_cases.delivery import Postbox

__all__ = [
    "NotifyEvents",
    "client_arrived",
    "complaint_answer",
    "consent_change",
    "feedback_notification",
    "follow_up_call",
    "match_proposed",
    "outreach_due",
    "overdue_referral",
    "plan_news",
    "published_rules",
    "sharing_requested",
    "survey_offer",
    "task_news",
    "webhook_body",
]

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
        cancelled call's reminder is withdrawn (one that fired stays fired), also when
        the cancellation is handled before the scheduling."""
        self._organisation(envelope)
        reminders.keep_or_withdraw(
            follow_up_call(envelope), ReminderRepository(envelope.organisation, "feedback")
        )

    @event_handler("notify.send-complaint-answers", ["feedback.complaint.answered.v1"])
    def on_complaint_answered(self, envelope: EventEnvelope) -> None:
        """The answer e-mailed to the address the complaint gave (none: nothing sent)."""
        outreach.send_complaint_answer(
            complaint_answer(envelope),
            self._organisation(envelope),
            self.wired.app.emails,
            clock_now(),
        )

    @event_handler("notify.offer-later-surveys", ["feedback.survey.later_issued.v1"])
    def on_later_survey_issued(self, envelope: EventEnvelope) -> None:
        """Kept for the api process, which reads the client's card (address, centres)
        and e-mails the link when the card records the feedback calls consent."""
        self._organisation(envelope)
        outreach.take_survey_offer(
            survey_offer(envelope), self.wired.app.survey_offers, clock_now()
        )


def webhooks_lease(app: Notify) -> timedelta:
    # Longer than a whole batch of hanging endpoints could take.
    return timedelta(seconds=app.config.webhook_timeout * 10 + 30)

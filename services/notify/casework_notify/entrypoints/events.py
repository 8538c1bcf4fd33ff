"""nameko entry point of notify: puts new clients into the responsible workers' inboxes,
keeps the routing rules intake publishes, and tells managers and workers what intake's
timers report: overdue referrals, outreach reminders and outcome requests, and tasks
assigned or overdue."""

from __future__ import annotations

from datetime import datetime

from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.organisation import Organisation
from casework_notify import services
from casework_notify.adapters.repository import PublishedRulesRepository
from casework_notify.bootstrap import bootstrap
from casework_notify.domain.inbox import (
    ClientArrived,
    OutreachDue,
    OverdueReferral,
    TaskNews,
    UnreadableEvent,
    read_match_proposed,
    read_outreach_due,
    read_sharing_requested,
    read_task_news,
)
from casework_notify.domain.routing import UnreadableRules, rules_from_payload


def client_arrived(envelope: EventEnvelope) -> ClientArrived:
    payload = envelope.payload
    try:
        return ClientArrived(
            event_id=envelope.id,
            organisation=envelope.organisation,
            client_id=str(payload["client_id"]),
            referral_id=str(payload["referral_id"]),
            display_name=str(payload["display_name"]),
            centre_id=str(payload["centre_id"]),
            client_type=str(payload["client_type"]),
            problem_type=str(payload["problem_type"]),
            returning=envelope.type == "clients.client.matched",
        )
    except (KeyError, TypeError) as exc:
        raise PoisonEvent(f"{envelope.routing_key} payload unreadable: {exc!r}") from None


def overdue_referral(envelope: EventEnvelope) -> OverdueReferral:
    payload = envelope.payload
    try:
        return OverdueReferral(
            event_id=envelope.id,
            organisation=envelope.organisation,
            referral_id=str(payload["referral_id"]),
            reference_number=str(payload["reference_number"]),
            centre_id=str(payload["centre_id"]),
            manager_id=str(payload["manager_id"]),
            client_type=str(payload["client_type"]),
            problem_type=str(payload["problem_type"]),
            due_at=datetime.fromisoformat(str(payload["due_at"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonEvent(f"{envelope.routing_key} payload unreadable: {exc!r}") from None


def outreach_due(envelope: EventEnvelope) -> OutreachDue:
    try:
        return read_outreach_due(
            envelope.id, envelope.organisation, envelope.type, envelope.payload
        )
    except UnreadableEvent as exc:
        raise PoisonEvent(f"{envelope.routing_key} payload unreadable: {exc}") from None


def task_news(envelope: EventEnvelope) -> TaskNews:
    try:
        return read_task_news(envelope.id, envelope.organisation, envelope.type, envelope.payload)
    except UnreadableEvent as exc:
        raise PoisonEvent(f"{envelope.routing_key} payload unreadable: {exc}") from None


class NotifyEvents(EventsService):
    name = "notify"
    casework_service = "notify"

    def __init__(self) -> None:
        self.app = bootstrap()

    def _organisation(self, envelope: EventEnvelope) -> Organisation:
        organisation = self.app.organisations.get(envelope.organisation)
        if organisation is None:
            raise PoisonEvent(f"organisation {envelope.organisation} is not served here")
        return organisation

    @event_handler(
        "notify.tell-responsible-workers",
        ["clients.client.registered.v1", "clients.client.matched.v1"],
    )
    def on_client_arrived(self, envelope: EventEnvelope) -> None:
        organisation = self._organisation(envelope)
        services.notify_responsible_workers(
            client_arrived(envelope),
            organisation,
            self.app.inboxes_of_organisation(envelope.organisation),
            now=self.app.clock(),
            published=PublishedRulesRepository().latest(envelope.organisation),
        )

    @event_handler("notify.keep-routing-rules", ["intake.routing_rules.published.v1"])
    def on_routing_rules_published(self, envelope: EventEnvelope) -> None:
        self._organisation(envelope)
        try:
            published = rules_from_payload(envelope.organisation, envelope.payload)
        except UnreadableRules as exc:
            raise PoisonEvent(f"{envelope.routing_key}: {exc}") from None
        services.keep_published_rules(published, PublishedRulesRepository(), now=self.app.clock())

    @event_handler("notify.tell-manager-overdue", ["intake.referral.first_contact_overdue.v1"])
    def on_first_contact_overdue(self, envelope: EventEnvelope) -> None:
        services.tell_manager_of_overdue_referral(
            overdue_referral(envelope),
            self._organisation(envelope),
            self.app.inboxes_of_organisation(envelope.organisation),
            now=self.app.clock(),
        )

    @event_handler(
        "notify.tell-worker-outreach",
        ["intake.outreach.reminder_due.v1", "intake.outreach.outcome_due.v1"],
    )
    def on_outreach_due(self, envelope: EventEnvelope) -> None:
        self._organisation(envelope)
        services.remind_worker_of_outreach(
            outreach_due(envelope),
            self.app.inboxes_of_organisation(envelope.organisation),
            now=self.app.clock(),
        )

    @event_handler(
        "notify.tell-assignee-task", ["intake.task.assigned.v1", "intake.task.overdue.v1"]
    )
    def on_task_news(self, envelope: EventEnvelope) -> None:
        self._organisation(envelope)
        services.tell_assignee_of_task(
            task_news(envelope),
            self.app.inboxes_of_organisation(envelope.organisation),
            now=self.app.clock(),
        )

    @event_handler("notify.tell-card-workers-match", ["clients.match.proposed.v1"])
    def on_match_proposed(self, envelope: EventEnvelope) -> None:
        organisation = self._organisation(envelope)
        try:
            proposed = read_match_proposed(envelope.id, envelope.organisation, envelope.payload)
        except UnreadableEvent as exc:
            raise PoisonEvent(f"{envelope.routing_key} payload unreadable: {exc}") from None
        services.tell_of_match_proposal(
            proposed,
            organisation,
            self.app.inboxes_of_organisation(envelope.organisation),
            now=self.app.clock(),
            published=PublishedRulesRepository().latest(envelope.organisation),
        )

    @event_handler("notify.tell-manager-sharing", ["clients.sharing.requested.v1"])
    def on_sharing_requested(self, envelope: EventEnvelope) -> None:
        organisation = self._organisation(envelope)
        try:
            requested = read_sharing_requested(envelope.id, envelope.organisation, envelope.payload)
        except UnreadableEvent as exc:
            raise PoisonEvent(f"{envelope.routing_key} payload unreadable: {exc}") from None
        services.tell_manager_of_sharing_request(
            requested,
            organisation,
            self.app.inboxes_of_organisation(envelope.organisation),
            now=self.app.clock(),
        )

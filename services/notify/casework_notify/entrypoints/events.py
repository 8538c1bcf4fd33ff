"""nameko entry point of notify: puts new clients into the responsible workers' inboxes,
keeps the routing rules intake publishes, and tells managers and workers what intake's
timers report: overdue referrals, outreach reminders and outcome requests, and tasks
assigned or overdue."""

from __future__ import annotations

from collections.abc import Iterable

from casework.clients.v1 import events_pb2 as clients_events
from casework.intake.v1 import events_pb2 as intake_events
from casework_common import contracts
from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.organisation import Organisation
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork
from casework_common.wiring import Wired, Wiring
from casework_notify import services
from casework_notify.adapters.repository import InboxRepository
from casework_notify.bootstrap import Notify, bootstrap
from casework_notify.domain.inbox import (
    ClientArrived,
    MatchProposed,
    OutreachDue,
    OverdueReferral,
    SharingRequested,
    TaskNews,
)
from casework_notify.domain.routing import PublishedRules, UnreadableRules, rules_from_payload


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

    def _inboxes(self, envelope: EventEnvelope) -> InboxRepository:
        return self.wired.app.inboxes_of_organisation(envelope.organisation)

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

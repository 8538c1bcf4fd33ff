"""Notify's use cases: each takes what happened (a fact read from an event, or a
command from a worker) and the unit of work it runs in, whose moment it stamps."""

from __future__ import annotations

from dataclasses import dataclass

from casework_common import routing
from casework_common.errors import FieldError, InvalidArgument
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_notify.adapters.repository import InboxRepository, PublishedRulesRepository
from casework_notify.domain import client_news, inbox, intake_news, plan_news
from casework_notify.domain.client_news import ClientArrived, MatchProposed, SharingRequested
from casework_notify.domain.inbox import Notification
from casework_notify.domain.intake_news import OutreachDue, OverdueReferral, TaskNews
from casework_notify.domain.plan_news import PlanNews
from casework_notify.domain.routing import PublishedRules, rules_in_force
from casework_notify.use_cases.delivery import Inbox


def notify_responsible_workers(
    arrival: ClientArrived,
    organisation: Organisation,
    repository: Inbox,
    uow: UnitOfWork,
    *,
    published: PublishedRules | None = None,
) -> list[Notification]:
    """Routes with the rules intake published last (the organisation file's while none
    was published)."""
    decision = routing.route(
        rules_in_force(organisation, published),
        organisation,
        routing.Case(arrival.centre_id, arrival.client_type, arrival.problem_type),
    )
    notifications = client_news.notify_responsible(arrival, list(decision.recipients), uow.now)
    repository.deliver(notifications)
    return notifications


@dataclass(frozen=True)
class MarkNotificationRead:
    notification_id: str


def mark_read(
    command: MarkNotificationRead, uow: UnitOfWork, repository: InboxRepository
) -> Notification:
    if not command.notification_id:
        raise InvalidArgument([FieldError("notification_id", "is required")])
    notification = inbox.mark_read(repository.get(command.notification_id), uow.now)
    repository.save(notification)
    return notification


def keep_published_rules(
    published: PublishedRules, uow: UnitOfWork, repository: PublishedRulesRepository
) -> bool:
    return repository.keep_latest(published, uow.now)


def tell_manager_of_overdue_referral(
    overdue: OverdueReferral,
    organisation: Organisation,
    repository: Inbox,
    uow: UnitOfWork,
) -> Notification:
    """The centre's manager as notify's organisation knows it; intake's word for it
    when the centre is unknown here."""
    centre = organisation.centre(overdue.centre_id)
    manager = centre.manager if centre is not None else overdue.manager_id
    notification = intake_news.tell_manager_of_overdue(overdue, manager, uow.now)
    repository.deliver([notification])
    return notification


def remind_worker_of_outreach(due: OutreachDue, repository: Inbox, uow: UnitOfWork) -> Notification:
    notification = intake_news.remind_of_outreach(due, uow.now)
    repository.deliver([notification])
    return notification


def tell_assignee_of_task(
    news: TaskNews, repository: Inbox, uow: UnitOfWork
) -> Notification | None:
    notification = intake_news.tell_assignee(news, uow.now)
    if notification is not None:
        repository.deliver([notification])
    return notification


def _serves(organisation: Organisation, worker_id: str, centre_id: str) -> bool:
    worker = organisation.workers.get(worker_id)
    return worker is not None and centre_id in worker.centres


def tell_of_match_proposal(
    proposed: MatchProposed,
    organisation: Organisation,
    repository: Inbox,
    uow: UnitOfWork,
    *,
    published: PublishedRules | None = None,
) -> list[Notification]:
    """The responsible workers of each of the card's centres, by the routing rules,
    keeping only workers who serve that centre (a rule may name someone else: they
    must not learn of a card they cannot open); the centre's duty worker otherwise."""
    rules = rules_in_force(organisation, published)
    chosen: dict[str, tuple[routing.Recipient, str]] = {}
    for centre_id in proposed.centre_ids:
        centre = organisation.centres.get(centre_id)
        if centre is None:
            continue
        recipients = [
            r
            for r in routing.route(
                rules,
                organisation,
                routing.Case(centre_id, proposed.client_type, proposed.problem_type),
            ).recipients
            if _serves(organisation, r.worker_id, centre_id)
        ] or [routing.Recipient(centre.duty_worker, f"duty worker of {centre_id}")]
        for recipient in recipients:
            chosen.setdefault(recipient.worker_id, (recipient, centre_id))
    notifications = client_news.tell_of_match_proposal(proposed, list(chosen.values()), uow.now)
    if proposed.tell_referring_centre:
        elsewhere = routing.route(
            rules,
            organisation,
            routing.Case(proposed.referring_centre_id, proposed.client_type, proposed.problem_type),
        ).recipients
        known = {n.worker_id for n in notifications}
        notifications += client_news.tell_known_elsewhere(
            proposed, [r for r in elsewhere if r.worker_id not in known], uow.now
        )
    repository.deliver(notifications)
    return notifications


def tell_manager_of_sharing_request(
    requested: SharingRequested,
    organisation: Organisation,
    repository: Inbox,
    uow: UnitOfWork,
) -> list[Notification]:
    managers: dict[str, str] = {}
    for centre_id in requested.centre_ids:
        centre = organisation.centres.get(centre_id)
        if centre is not None:
            managers.setdefault(centre.manager, centre_id)
    pairs = list(managers.items())
    notifications = client_news.tell_manager_of_sharing_request(requested, pairs, uow.now)
    repository.deliver(notifications)
    return notifications


def tell_of_plan_news(
    news: PlanNews, organisation: Organisation, repository: Inbox, uow: UnitOfWork
) -> list[Notification]:
    """The responsible worker; for a decision requested, the manager of each of the
    plan's centres (as notify's organisation knows them)."""
    if news.what == "decision_requested":
        recipients = [
            centre.manager
            for centre_id in news.centre_ids
            if (centre := organisation.centres.get(centre_id)) is not None
        ]
    else:
        recipients = [news.worker_id]
    notifications = plan_news.tell_of_plan_news(news, recipients, uow.now)
    repository.deliver(notifications)
    return notifications

"""Notify's use cases."""

from __future__ import annotations

from datetime import datetime

from casework_common.organisation import Organisation
from casework_notify.adapters.repository import InboxRepository, PublishedRulesRepository
from casework_notify.domain import inbox, routing
from casework_notify.domain.inbox import (
    ClientArrived,
    Notification,
    OutreachDue,
    OverdueReferral,
    TaskNews,
)
from casework_notify.domain.routing import PublishedRules


def notify_responsible_workers(
    arrival: ClientArrived,
    organisation: Organisation,
    repository: InboxRepository,
    *,
    now: datetime,
    published: PublishedRules | None = None,
) -> list[Notification]:
    """Routes with the rules intake published last (the organisation file's while none
    was published)."""
    organisation = routing.with_rules(organisation, published)
    recipients = routing.route(
        organisation,
        routing.Case(
            region_id=organisation.centres[arrival.centre_id].region
            if arrival.centre_id in organisation.centres
            else "",
            centre_id=arrival.centre_id,
            client_type=arrival.client_type,
            problem_type=arrival.problem_type,
        ),
    )
    notifications = inbox.notify_responsible(arrival, recipients, now)
    repository.deliver(notifications)
    return notifications


def mark_read(notification_id: str, repository: InboxRepository, *, now: datetime) -> Notification:
    notification = inbox.mark_read(repository.get(notification_id), now)
    repository.save(notification)
    return notification


def keep_published_rules(
    published: PublishedRules, repository: PublishedRulesRepository, *, now: datetime
) -> bool:
    return repository.keep_latest(published, now)


def tell_manager_of_overdue_referral(
    overdue: OverdueReferral,
    organisation: Organisation,
    repository: InboxRepository,
    *,
    now: datetime,
) -> Notification:
    """The centre's manager as notify's organisation knows it; intake's word for it
    when the centre is unknown here."""
    centre = organisation.centre(overdue.centre_id)
    manager = centre.manager if centre is not None else overdue.manager_id
    notification = inbox.tell_manager_of_overdue(overdue, manager, now)
    repository.deliver([notification])
    return notification


def remind_worker_of_outreach(
    due: OutreachDue, repository: InboxRepository, *, now: datetime
) -> Notification:
    notification = inbox.remind_of_outreach(due, now)
    repository.deliver([notification])
    return notification


def tell_assignee_of_task(
    news: TaskNews, repository: InboxRepository, *, now: datetime
) -> Notification | None:
    notification = inbox.tell_assignee(news, now)
    if notification is not None:
        repository.deliver([notification])
    return notification

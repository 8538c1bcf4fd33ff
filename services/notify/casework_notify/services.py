"""Notify's use cases."""

from __future__ import annotations

from datetime import datetime

from casework_common.organisation import Organisation
from casework_notify.adapters.repository import InboxRepository
from casework_notify.domain import inbox, routing
from casework_notify.domain.inbox import ClientArrived, Notification


def notify_responsible_workers(
    arrival: ClientArrived,
    organisation: Organisation,
    repository: InboxRepository,
    *,
    now: datetime,
) -> list[Notification]:
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

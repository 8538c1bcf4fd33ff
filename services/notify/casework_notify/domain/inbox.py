"""Notifications in a worker's inbox."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from casework_notify.domain.routing import Recipient


@dataclass(frozen=True)
class ClientArrived:
    """A card was created or matched from a referral (clients' events)."""

    event_id: str
    organisation: str
    client_id: str
    referral_id: str
    display_name: str
    centre_id: str
    client_type: str
    problem_type: str
    returning: bool


@dataclass(frozen=True)
class Notification:
    notification_id: str
    organisation: str
    worker_id: str
    kind: str
    title: str
    body: str
    client_id: str
    referral_id: str
    centre_id: str
    routing_reason: str
    created_at: datetime
    read_at: datetime | None = None


def notification_id(event_id: str, worker_id: str) -> str:
    # Derived from the event, so a redelivered event lands on the same notification.
    return f"{event_id}:{worker_id}"


def notify_responsible(
    arrival: ClientArrived, recipients: list[Recipient], now: datetime
) -> list[Notification]:
    kind = "returning_client" if arrival.returning else "new_client"
    title = (
        f"Returning client: {arrival.display_name}"
        if arrival.returning
        else f"New client: {arrival.display_name}"
    )
    body = (
        f"{arrival.display_name} was referred to {arrival.centre_id} "
        f"({arrival.client_type}, {arrival.problem_type}). Please make first contact."
    )
    return [
        Notification(
            notification_id=notification_id(arrival.event_id, recipient.worker_id),
            organisation=arrival.organisation,
            worker_id=recipient.worker_id,
            kind=kind,
            title=title,
            body=body,
            client_id=arrival.client_id,
            referral_id=arrival.referral_id,
            centre_id=arrival.centre_id,
            routing_reason=recipient.reason,
            created_at=now,
        )
        for recipient in recipients
    ]


def mark_read(notification: Notification, now: datetime) -> Notification:
    return notification if notification.read_at else replace(notification, read_at=now)


@dataclass(frozen=True)
class OverdueReferral:
    """Nobody took a referral on before its first-response deadline (intake's event)."""

    event_id: str
    organisation: str
    referral_id: str
    reference_number: str
    centre_id: str
    manager_id: str
    client_type: str
    problem_type: str
    due_at: datetime


def tell_manager_of_overdue(
    overdue: OverdueReferral, manager_id: str, now: datetime
) -> Notification:
    return Notification(
        notification_id=notification_id(overdue.event_id, manager_id),
        organisation=overdue.organisation,
        worker_id=manager_id,
        kind="first_contact_overdue",
        title=f"No first response yet: referral {overdue.reference_number}",
        body=(
            f"Referral {overdue.reference_number} to {overdue.centre_id} "
            f"({overdue.client_type}, {overdue.problem_type}) was not taken on by any "
            f"worker before {overdue.due_at.isoformat()}. Please make sure someone "
            "contacts the person."
        ),
        client_id="",
        referral_id=overdue.referral_id,
        centre_id=overdue.centre_id,
        routing_reason=f"manager of {overdue.centre_id}; first-response deadline missed",
        created_at=now,
    )

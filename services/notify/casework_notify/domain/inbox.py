"""Notifications in a worker's inbox: what one is, its priority and links, when it
escalates and to whom, and its id (derived from the event, one per event and worker).
What each service's news becomes is in client_news, intake_news and plan_news."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


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
    # What the notification is about ("client", "referral", "outreach", "task") and
    # its id, taken from the event, so that an app can open it without reading the text.
    subject_kind: str = ""
    subject_id: str = ""
    # "low", "normal", "high" or "urgent"; "" until `classify` gives the kind's own.
    priority: str = ""
    # Every record it is about, the subject first (see `classify`).
    links: tuple[Link, ...] = ()
    # Someone must act on it: unread past `escalate_at`, it goes up the chain.
    needs_action: bool = False
    escalate_at: datetime | None = None
    escalation_level: int = 0


@dataclass(frozen=True)
class Link:
    """One record a notification is about: its kind ("client", "referral", "plan",
    "task", "complaint", ...) and its id in its own service."""

    kind: str
    id: str


PRIORITIES = ("low", "normal", "high", "urgent")
# What a kind asks for unless its maker said otherwise.
PRIORITY_OF_KIND = {
    "first_contact_overdue": "urgent",
    "task_overdue": "high",
    "new_client": "high",
    "returning_client": "high",
    "match_proposed": "high",
    "sharing_requested": "high",
    "escalated": "urgent",
}
# Kinds someone must act on: unread in time, they are escalated.
ACTION_KINDS = frozenset(
    {
        "new_client",
        "returning_client",
        "first_contact_overdue",
        "match_proposed",
        "sharing_requested",
    }
)


def links_of(n: Notification) -> tuple[Link, ...]:
    """The subject first, then the client and referral, then the maker's own; once each."""
    found: list[Link] = []
    candidates = [
        Link(n.subject_kind, n.subject_id),
        Link("client", n.client_id),
        Link("referral", n.referral_id),
        *n.links,
    ]
    for link in candidates:
        if link.kind and link.id and link not in found:
            found.append(link)
    return tuple(found)


def classify(n: Notification, escalate_after: timedelta | None = None) -> Notification:
    """Priority, links and, for an action kind, when it escalates if still unread."""
    needs_action = n.needs_action or n.kind in ACTION_KINDS
    escalate_at = n.escalate_at
    if needs_action and escalate_at is None and escalate_after is not None:
        escalate_at = n.created_at + escalate_after
    return replace(
        n,
        priority=n.priority or PRIORITY_OF_KIND.get(n.kind, "normal"),
        links=links_of(n),
        needs_action=needs_action,
        escalate_at=escalate_at if needs_action else None,
    )


def escalation_target(
    n: Notification, duty_worker: str | None, manager: str | None
) -> tuple[int, str] | None:
    """Who is next up the chain (worker -> duty worker -> centre manager) for a
    notification unread past its time, skipping whoever already has it; None at the
    top."""
    chain = [w for w in (duty_worker, manager) if w]
    level = n.escalation_level
    already = {n.worker_id}
    for step, worker in enumerate(chain, start=1):
        if step <= level:
            already.add(worker)
            continue
        if worker in already:
            continue
        return step, worker
    return None


def escalate(n: Notification, level: int, to_worker: str, now: datetime) -> Notification:
    """The copy for the next person up the chain; its id is derived, so an escalation
    redone after a crash lands once."""
    return classify(
        Notification(
            notification_id=f"{n.notification_id}:escalated:{level}",
            organisation=n.organisation,
            worker_id=to_worker,
            kind="escalated",
            title=f"Unread by {n.worker_id}: {n.title}",
            body=(
                f"{n.worker_id} has not read this since {n.created_at.isoformat()}. "
                f"Please make sure someone acts on it.\n\n{n.body}"
            ),
            client_id=n.client_id,
            referral_id=n.referral_id,
            centre_id=n.centre_id,
            routing_reason=f"escalation {level}: {n.kind} unread by {n.worker_id}",
            created_at=now,
            subject_kind=n.subject_kind,
            subject_id=n.subject_id,
            links=n.links,
        )
    )


def notification_id(event_id: str, worker_id: str) -> str:
    # Derived from the event, so a redelivered event lands on the same notification.
    return f"{event_id}:{worker_id}"


def mark_read(notification: Notification, now: datetime) -> Notification:
    return notification if notification.read_at else replace(notification, read_at=now)


def plain_notification(
    *,
    event_id: str,
    organisation: str,
    worker_id: str,
    kind: str,
    title: str,
    body: str,
    centre_id: str,
    links: tuple[Link, ...],
    reason: str,
    now: datetime,
    priority: str = "",
    needs_action: bool = False,
) -> Notification:
    """A notification about another service's record (its links say which), one per
    event and worker."""
    subject = links[0] if links else Link("", "")
    return Notification(
        notification_id=notification_id(event_id, worker_id),
        organisation=organisation,
        worker_id=worker_id,
        kind=kind,
        title=title,
        body=body,
        client_id=next((lk.id for lk in links if lk.kind == "client"), ""),
        referral_id="",
        centre_id=centre_id,
        routing_reason=reason,
        created_at=now,
        subject_kind=subject.kind,
        subject_id=subject.id,
        priority=priority,
        links=links,
        needs_action=needs_action,
    )

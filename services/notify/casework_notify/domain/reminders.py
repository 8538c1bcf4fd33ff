"""Reminders: a notification promised for a moment, scheduled by another service.

A reminder's id is the scheduling service and its own key, so scheduling twice keeps
one reminder, and the notification it becomes has an id derived from it, so firing it
twice (a replica that crashed mid-way, two replicas racing) lands one notification."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument
from casework_notify.domain.inbox import PRIORITIES, Link, Notification, classify

SCHEDULED = "scheduled"
FIRED = "fired"
CANCELLED = "cancelled"
MAX_TEXT = 2000
MAX_KEY = 200


@dataclass(frozen=True)
class Reminder:
    reminder_id: str
    organisation: str
    owner: str  # the service that scheduled it
    key: str
    worker_id: str
    due_at: datetime
    kind: str
    title: str
    body: str
    centre_id: str = ""
    priority: str = ""
    links: tuple[Link, ...] = ()
    needs_action: bool = False
    state: str = SCHEDULED
    fired_at: datetime | None = None
    scheduled_at: datetime | None = None


def reminder_id(owner: str, key: str) -> str:
    return f"{owner}:{key}"


def check(reminder: Reminder, now: datetime, known_workers: set[str]) -> None:
    """INVALID_ARGUMENT naming each wrong field; a moment not in the future is refused."""
    errors: list[FieldError] = []
    if not reminder.key or len(reminder.key) > MAX_KEY:
        errors.append(FieldError("reminder.key", f"is required, at most {MAX_KEY} characters"))
    if reminder.worker_id not in known_workers:
        errors.append(FieldError("reminder.worker_id", "is not a worker of the organisation"))
    if reminder.due_at <= now:
        errors.append(FieldError("reminder.due_at", "must be in the future"))
    if not reminder.kind or len(reminder.kind) > 100:
        errors.append(FieldError("reminder.kind", "is required, at most 100 characters"))
    if not reminder.title or len(reminder.title) > 300:
        errors.append(FieldError("reminder.title", "is required, at most 300 characters"))
    if len(reminder.body) > MAX_TEXT:
        errors.append(FieldError("reminder.body", f"at most {MAX_TEXT} characters"))
    if reminder.priority and reminder.priority not in PRIORITIES:
        errors.append(FieldError("reminder.priority", "is not a priority"))
    if len(reminder.links) > 20 or any(not (lk.kind and lk.id) for lk in reminder.links):
        errors.append(FieldError("reminder.links", "at most 20, each with kind and id"))
    if errors:
        raise InvalidArgument(errors)


def reschedule(existing: Reminder, wanted: Reminder) -> Reminder:
    """The same key again: a scheduled reminder takes the new moment and text; one
    that fired or was cancelled cannot be scheduled again under that key."""
    if existing.state != SCHEDULED:
        raise FailedPrecondition(f"reminder {existing.key} has {existing.state} already")
    return replace(wanted, state=SCHEDULED, fired_at=None)


def cancel(existing: Reminder) -> Reminder:
    """Withdraw; a fired reminder stays fired (the caller sees it did)."""
    if existing.state == SCHEDULED:
        return replace(existing, state=CANCELLED)
    return existing


def notification_of(reminder: Reminder, now: datetime) -> Notification:
    return classify(
        Notification(
            notification_id=f"reminder:{reminder.reminder_id}",
            organisation=reminder.organisation,
            worker_id=reminder.worker_id,
            kind=reminder.kind,
            title=reminder.title,
            body=reminder.body,
            client_id=next((lk.id for lk in reminder.links if lk.kind == "client"), ""),
            referral_id=next((lk.id for lk in reminder.links if lk.kind == "referral"), ""),
            centre_id=reminder.centre_id,
            routing_reason=f"reminder scheduled by {reminder.owner}",
            created_at=now,
            subject_kind=reminder.links[0].kind if reminder.links else "",
            subject_id=reminder.links[0].id if reminder.links else "",
            priority=reminder.priority,
            links=reminder.links,
            needs_action=reminder.needs_action,
        )
    )

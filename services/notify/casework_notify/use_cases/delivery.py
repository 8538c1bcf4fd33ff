"""Putting notifications into inboxes, and what follows: an e-mail for a kind the
worker chose (after their quiet hours), and the time an action notification escalates.

Every step is idempotent by derived ids: a redelivered event, a reminder fired twice, an
escalation redone after a crash land one notification and one e-mail."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from casework_common.organisation import Organisation
from casework_notify.domain.email import Email, Preferences, render, send_after, wants_email
from casework_notify.domain.inbox import Notification, classify


class Inbox(Protocol):
    def deliver(self, notifications: list[Notification]) -> int: ...


class PreferencesReader(Protocol):
    def get_many(self, organisation: str, workers: set[str]) -> dict[str, Preferences]: ...


class EmailQueue(Protocol):
    def queue(self, email: Email) -> bool: ...


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass
class Postbox:
    inbox: Inbox
    organisation: Organisation | None
    preferences: PreferencesReader
    emails: EmailQueue
    escalate_after: timedelta
    # Told (organisation, workers) after new notifications are stored: wakes the live
    # inboxes watching them (adapters.inbox_signal).
    announce: Callable[[str, Iterable[str]], None] | None = None

    def deliver(self, notifications: list[Notification]) -> int:
        prepared = [classify(n, self.escalate_after) for n in notifications]
        added = self.inbox.deliver(prepared)
        if added and self.announce is not None:
            self.announce(prepared[0].organisation, {n.worker_id for n in prepared})
        # For every one, not only the new: a crash between the insert and the e-mail
        # is made good by the redelivery (the e-mail's id is the notification's).
        if self.organisation is None or not prepared:
            return added
        # Only those an e-mail can reach have preferences worth a read: a worker the
        # organisation file gives no address gets none, whatever they chose.
        workers = self.organisation.workers
        reachable = {
            n.worker_id for n in prepared if n.worker_id in workers and workers[n.worker_id].email
        }
        if not reachable:
            return added
        chosen = self.preferences.get_many(self.organisation.id, reachable)
        for notification in prepared:
            self._email(notification, chosen.get(notification.worker_id))
        return added

    def _email(self, n: Notification, preferences: Preferences | None) -> None:
        org = self.organisation
        if org is None:
            return
        if not wants_email(preferences, n.kind) or preferences is None:
            return
        worker = org.workers.get(n.worker_id)
        if worker is None or not worker.email:
            return
        subject, text, language = render(
            "notification",
            org.language,
            {
                "organisation": org.name,
                "worker_name": worker.name,
                "title": n.title,
                "body": n.body,
                "kind": n.kind,
            },
        )
        self.emails.queue(
            Email(
                email_id=f"notification:{n.notification_id}",
                organisation=n.organisation,
                recipient=worker.email,
                subject=subject,
                text=text,
                language=language,
                created_at=n.created_at,
                next_attempt_at=send_after(
                    preferences, n.created_at, zone_of(preferences.time_zone)
                ),
            )
        )

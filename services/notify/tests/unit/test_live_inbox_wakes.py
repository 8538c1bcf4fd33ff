"""The live inbox wakes on its own change: a delivery that stored new notifications
tells which workers' inboxes changed (a redelivered one tells nothing), and the feed
looks at once when a watched inbox is named, long before its fallback poll. A delivery
reads the preferences only of workers an e-mail can reach."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from casework_dev.testing.fakes import MOMENT
from casework_dev.testing.organisations import create_organisation
from casework_notify.adapters.feed import InboxFeed
from casework_notify.domain.email import Email, Preferences
from casework_notify.domain.inbox import Link, Notification, plain_notification
from casework_notify.use_cases.delivery import Postbox

# Longer than any test waits: whatever arrives came by the hint.
NEVER_BY_POLLING = 3600.0


class Inbox:
    def __init__(self) -> None:
        self.stored: set[str] = set()

    def deliver(self, notifications: list[Notification]) -> int:
        new = {n.notification_id for n in notifications} - self.stored
        self.stored |= new
        return len(new)


class NoPreferences:
    def get_many(self, organisation: str, workers: set[str]) -> dict[str, Preferences]:
        return {}


class NoEmails:
    def queue(self, email: Email) -> bool:
        return False


def create_notification(worker_id: str = "w-anna") -> Notification:
    return plain_notification(
        event_id="evt-1",
        organisation="org-demo",
        worker_id=worker_id,
        kind="new_client",
        title="New client",
        body="",
        centre_id="ctr-north-town",
        links=(Link("client", "cl-1"),),
        reason="rule",
        now=MOMENT,
    )


def test_a_delivery_announces_the_workers_whose_inboxes_got_something_new() -> None:
    told: list[tuple[str, set[str]]] = []
    postbox = Postbox(
        inbox=Inbox(),
        organisation=create_organisation(),
        preferences=NoPreferences(),
        emails=NoEmails(),
        escalate_after=timedelta(hours=4),
        announce=lambda organisation, workers: told.append((organisation, set(workers))),
    )
    batch = [
        create_notification(),
        create_notification(worker_id="w-petr"),
    ]

    postbox.deliver(batch)
    postbox.deliver(batch)  # redelivered: nothing new, nothing to tell

    assert told == [("org-demo", {"w-anna", "w-petr"})]


def test_preferences_are_read_only_for_workers_an_email_can_reach() -> None:
    asked: list[set[str]] = []

    class Asked(NoPreferences):
        def get_many(self, organisation: str, workers: set[str]) -> dict[str, Preferences]:
            asked.append(set(workers))
            return {}

    organisation = create_organisation()
    without_address = replace(organisation.workers["w-petr"], email="")
    postbox = Postbox(
        inbox=Inbox(),
        organisation=replace(
            organisation, workers={**organisation.workers, "w-petr": without_address}
        ),
        preferences=Asked(),
        emails=NoEmails(),
        escalate_after=timedelta(hours=4),
    )

    postbox.deliver([create_notification(), create_notification(worker_id="w-petr")])
    postbox.deliver([create_notification(worker_id="w-petr")])

    assert asked == [{"w-anna"}]


def stored_row(worker_id: str, notification_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "_id": notification_id,
        "organisation": "org-demo",
        "worker_id": worker_id,
        "kind": "new_client",
        "title": "t",
        "created_at": now,
        "stored_at": now,
    }


def test_a_hint_naming_a_watched_inbox_makes_the_feed_look_at_once() -> None:
    rows: list[dict[str, Any]] = []
    feed = InboxFeed(
        interval=NEVER_BY_POLLING,
        poll=lambda since, workers: [r for r in rows if r["worker_id"] in workers],
    )
    anna = feed.watch("org-demo", "w-anna")
    try:
        rows.append(stored_row("w-anna", "n-1"))
        feed.changed("org-demo", ["w-anna"])
        assert anna.get(timeout=15).notification_id == "n-1"
    finally:
        feed.unwatch("org-demo", "w-anna", anna)

"""The live inbox wakes on its own change: a delivery that stored new notifications
tells which workers' inboxes changed (a redelivered one tells nothing), and the feed
looks at once when a watched inbox is named, long before its fallback poll. A delivery
reads the preferences only of workers an e-mail can reach."""

from __future__ import annotations

import queue
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casework_dev.testing.fakes import MOMENT
from casework_dev.testing.organisations import create_organisation
from casework_notify.adapters.feed import SKEW, InboxFeed
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


def stored_row(
    worker_id: str, notification_id: str, stored_at: datetime | None = None
) -> dict[str, Any]:
    now = stored_at or datetime.now(UTC)
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


class QuietFeed:
    """A feed whose own thread's first looks are over before the test looks itself:
    watching starts that thread, which looks at once (whole) and again on the wake-up
    the watch gave it (short), then sleeps for good (NEVER_BY_POLLING)."""

    def __init__(self, rows: list[dict[str, Any]], **options: Any) -> None:
        self.rows, self.looked_from = rows, []
        self._own_looks = threading.Semaphore(0)
        self.feed = InboxFeed(interval=NEVER_BY_POLLING, poll=self._poll, **options)

    def _poll(self, since: datetime, workers: list[str]) -> list[dict[str, Any]]:
        if threading.current_thread().name == "inbox-feed":
            self._own_looks.release()
        self.looked_from.append(since)
        return [r for r in self.rows if r["worker_id"] in workers and r["stored_at"] >= since]

    def watch(self, worker_id: str) -> queue.SimpleQueue[Notification]:
        inbox = self.feed.watch("org-demo", worker_id)
        for _ in range(2):
            assert self._own_looks.acquire(timeout=15)
        return inbox


def test_a_hints_look_goes_back_the_clock_skew_and_a_whole_look_the_overlap() -> None:
    quiet = QuietFeed([])
    anna = quiet.watch("w-anna")
    try:
        before = datetime.now(UTC)
        quiet.feed.poll_once(full=True)
        quiet.feed.poll_once(full=False)
        whole, short = quiet.looked_from[-2:]
        assert whole <= before - timedelta(seconds=2)
        assert short >= before - SKEW
    finally:
        quiet.feed.unwatch("org-demo", "w-anna", anna)


def test_a_lagging_writers_notification_that_hints_passed_over_comes_with_the_next_whole_look() -> (
    None
):
    rows: list[dict[str, Any]] = []
    quiet = QuietFeed(rows, overlap=0.5)
    feed = quiet.feed
    anna = quiet.watch("w-anna")
    try:
        start = datetime.now(UTC)
        feed.poll_once(full=True)
        # Newer notifications move the hints' looks on, past the whole overlap.
        rows.append(stored_row("w-anna", "n-new", start + timedelta(seconds=1)))
        feed.poll_once(full=False)
        assert anna.get(timeout=5).notification_id == "n-new"
        # Committed only now, stamped when its writer began.
        rows.append(stored_row("w-anna", "n-late", start + timedelta(milliseconds=100)))
        feed.poll_once(full=False)
        with pytest.raises(queue.Empty):
            anna.get_nowait()
        feed.poll_once(full=True)
        assert anna.get(timeout=5).notification_id == "n-late"
        feed.poll_once(full=True)
        with pytest.raises(queue.Empty):
            anna.get_nowait()  # once
    finally:
        feed.unwatch("org-demo", "w-anna", anna)

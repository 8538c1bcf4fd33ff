"""notify's own queries against the database MONGO_URI names (the development server
unless told otherwise): a due item is claimed by one claimer only, to the millisecond;
an outcome keeps its moments as moments; a batch of notifications is stored once
whatever was there already; unread counts per kind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from casework_notify.adapters.mail import EmailRepository
from casework_notify.adapters.reminders import ReminderRepository, claim_due_reminders, mark_fired
from casework_notify.adapters.repository import InboxRepository
from casework_notify.domain.email import Email, failed
from casework_notify.domain.inbox import Notification
from casework_notify.domain.reminders import Reminder

pytestmark = pytest.mark.usefixtures("mongo_db")
LEASE = timedelta(seconds=30)


def create_reminder(i: int, due: datetime) -> Reminder:
    return Reminder(
        reminder_id=f"svc-plans:k{i}",
        organisation="org-demo",
        owner="svc-plans",
        key=f"k{i}",
        worker_id="w-anna",
        due_at=due,
        kind="plan_review_due",
        title="Review",
        body="",
    )


def test_a_due_reminder_is_claimed_by_one_of_several_claimers_and_not_before_its_time() -> None:
    now = datetime.now(UTC).replace(microsecond=100_000)
    repository = ReminderRepository("org-demo", "svc-plans")
    for i in range(30):
        repository.add(create_reminder(i, now - timedelta(seconds=1)))
    # Same second, 700 ms later: the development server compares stored datetimes to
    # the second, so only the number kept beside them tells these apart.
    repository.add(create_reminder(99, now + timedelta(milliseconds=700)))

    def claimer(_: int) -> list[str]:
        mine: list[str] = []
        while batch := claim_due_reminders(now, LEASE, 7):
            mine += [r.reminder_id for r, _ in batch]
        return mine

    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(claimer, range(4)))
    claimed = [reminder for mine in claims for reminder in mine]
    # Each once, whoever claimed it.
    assert sorted(claimed) == sorted(f"svc-plans:k{i}" for i in range(30))
    assert "svc-plans:k99" not in claimed

    # A claim whose holder died runs out; the reminder is claimed again, then fired once.
    [(again, holder)] = claim_due_reminders(now + LEASE + timedelta(seconds=1), LEASE, 1)
    assert mark_fired([again.reminder_id], holder, now) == 1
    assert mark_fired([again.reminder_id], holder, now) == 0
    assert repository.get(again.reminder_id).state == "fired"
    assert repository.get(again.reminder_id).fired_at == now


def test_a_failed_email_keeps_its_moments_and_waits_its_backoff() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    emails = EmailRepository()
    emails.queue(Email("e-1", "org-demo", "a@example.org", "s", "t", "en", now, now))
    [(email, holder)] = emails.claim_due(now, LEASE, 10)
    assert emails.record(failed(email, "refused", now, 5, 60), holder)
    stored = emails.get("e-1")
    assert stored is not None
    assert isinstance(stored.next_attempt_at, datetime)
    assert stored.next_attempt_at == now + timedelta(seconds=5)
    assert emails.claim_due(now + timedelta(seconds=4), LEASE, 10) == []
    assert [e.email_id for e, _ in emails.claim_due(now + timedelta(seconds=5), LEASE, 10)] == [
        "e-1"
    ]


def create_notification(n: int, kind: str) -> Notification:
    return Notification(
        notification_id=f"evt-{n}:w-anna",
        organisation="org-demo",
        worker_id="w-anna",
        kind=kind,
        title="t",
        body="",
        client_id="",
        referral_id="",
        centre_id="ctr-north-town",
        routing_reason="",
        created_at=datetime.now(UTC).replace(microsecond=0),
    )


def test_a_batch_is_stored_once_and_counted_per_kind() -> None:
    inbox = InboxRepository("org-demo", None)
    first = [create_notification(n, "new_client") for n in range(3)]
    assert inbox.deliver(first) == 3
    batch = [*first, create_notification(3, "task_assigned"), create_notification(4, "new_client")]
    assert inbox.deliver(batch) == 2
    anna = InboxRepository("org-demo", "w-anna")
    assert anna.unread_by_kind() == {"new_client": 4, "task_assigned": 1}
    assert anna.unread_count() == 5


def test_a_follow_up_call_cancelled_before_its_scheduling_arrives_never_fires() -> None:
    from dataclasses import replace

    from casework_notify.domain.reminders import CANCELLED
    from casework_notify.use_cases.reminders import keep_or_withdraw

    now = datetime.now(UTC)
    repository = ReminderRepository("org-demo", "svc-plans")
    early, late = create_reminder(1, now - timedelta(seconds=1)), create_reminder(2, now)
    late = replace(late, due_at=now - timedelta(seconds=1))

    keep_or_withdraw(replace(early, state=CANCELLED), repository)  # the cancellation first
    keep_or_withdraw(early, repository)
    keep_or_withdraw(late, repository)  # in order: scheduled, then cancelled
    keep_or_withdraw(replace(late, state=CANCELLED), repository)
    keep_or_withdraw(replace(late, state=CANCELLED), repository)  # redelivered

    assert repository.get(early.reminder_id).state == CANCELLED
    assert repository.get(late.reminder_id).state == CANCELLED
    assert claim_due_reminders(now, LEASE, 10) == []

"""notify's rules without servers: priorities and links, the escalation chain,
reminders refused in the past, e-mail templates with their fallback, quiet hours and
backoff, webhook signatures with their replay window, retries then a dead letter, the
SSRF rule in production, consent for messages to clients, and the live inbox's feed."""

from __future__ import annotations

import queue
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import FailedPrecondition, InvalidArgument
from casework_dev.testing.fakes import MOMENT, FakeUnitOfWork
from casework_notify.adapters.feed import InboxFeed
from casework_notify.domain import consent, email, inbox, reminders, webhooks
from casework_notify.domain.inbox import Link, Notification
from casework_notify.use_cases import webhooks as webhook_cases


def create_notification(**overrides: Any) -> Notification:
    fields: dict[str, Any] = {
        "notification_id": "evt-1:w-anna",
        "organisation": "org-demo",
        "worker_id": "w-anna",
        "kind": "new_client",
        "title": "New client: Jana N.",
        "body": "Please make first contact.",
        "client_id": "cl-1",
        "referral_id": "ref-1",
        "centre_id": "ctr-north-town",
        "routing_reason": "rule",
        "created_at": MOMENT,
        "subject_kind": "client",
        "subject_id": "cl-1",
    }
    fields.update(overrides)
    return Notification(**fields)


# ----------------------------------------------------------------------- inbox


def test_an_action_kind_is_high_priority_linked_and_escalates_after_its_time() -> None:
    n = inbox.classify(create_notification(), timedelta(hours=4))
    assert n.priority == "high"
    assert n.needs_action
    assert n.escalate_at == MOMENT + timedelta(hours=4)
    assert n.links == (Link("client", "cl-1"), Link("referral", "ref-1"))


def test_an_informative_kind_is_normal_and_never_escalates() -> None:
    n = inbox.classify(create_notification(kind="task_assigned"), timedelta(hours=4))
    assert (n.priority, n.needs_action, n.escalate_at) == ("normal", False, None)


def test_the_chain_goes_worker_duty_worker_manager_skipping_who_has_it() -> None:
    n = create_notification()
    assert inbox.escalation_target(n, "w-duty", "w-boss") == (1, "w-duty")
    assert inbox.escalation_target(create_notification(escalation_level=1), "w-duty", "w-boss") == (
        2,
        "w-boss",
    )
    assert (
        inbox.escalation_target(create_notification(escalation_level=2), "w-duty", "w-boss") is None
    )
    # The worker is the duty worker: straight to the manager.
    assert inbox.escalation_target(create_notification(worker_id="w-duty"), "w-duty", "w-boss") == (
        2,
        "w-boss",
    )


def test_an_escalated_copy_has_a_derived_id_and_is_urgent() -> None:
    copy = inbox.escalate(create_notification(), 1, "w-duty", MOMENT)
    assert copy.notification_id == "evt-1:w-anna:escalated:1"
    assert (copy.worker_id, copy.priority, copy.needs_action) == ("w-duty", "urgent", False)


# ------------------------------------------------------------------- reminders


def create_reminder(**overrides: Any) -> reminders.Reminder:
    fields: dict[str, Any] = {
        "reminder_id": "svc-plans:k",
        "organisation": "org-demo",
        "owner": "svc-plans",
        "key": "k",
        "worker_id": "w-anna",
        "due_at": MOMENT + timedelta(minutes=5),
        "kind": "plan_review_due",
        "title": "Review",
        "body": "",
    }
    fields.update(overrides)
    return reminders.Reminder(**fields)


def test_a_reminder_in_the_past_or_now_is_refused_naming_the_field() -> None:
    for due in (MOMENT, MOMENT - timedelta(seconds=1)):
        with pytest.raises(InvalidArgument) as caught:
            reminders.check(create_reminder(due_at=due), MOMENT, {"w-anna"})
        assert [e.field for e in caught.value.errors] == ["reminder.due_at"]


def test_a_reminder_for_an_unknown_worker_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        reminders.check(create_reminder(worker_id="w-nobody"), MOMENT, {"w-anna"})


def test_a_fired_reminder_cannot_be_rescheduled_and_stays_fired_when_cancelled() -> None:
    done = create_reminder(state=reminders.FIRED)
    with pytest.raises(FailedPrecondition):
        reminders.reschedule(done, create_reminder())
    assert reminders.cancel(done) is done
    assert reminders.cancel(create_reminder()).state == reminders.CANCELLED


def test_a_reminder_becomes_one_notification_whatever_fires_it() -> None:
    r = create_reminder(links=(Link("plan", "p-1"), Link("client", "cl-1")))
    first = reminders.notification_of(r, MOMENT)
    again = reminders.notification_of(r, MOMENT + timedelta(seconds=3))
    assert first.notification_id == again.notification_id == "reminder:svc-plans:k"
    assert (first.subject_kind, first.subject_id, first.client_id) == ("plan", "p-1", "cl-1")


# ---------------------------------------------------------------------- e-mail


def test_the_organisations_language_is_used_and_english_where_a_text_lacks_it() -> None:
    values = {"organisation": "Sieť", "link": "https://x.example/s"}
    subject, _, language = email.render("self_fill", "sk", values)
    assert language == "sk" and "Formulár" in subject
    subject, _, language = email.render("survey", "sk", values)
    assert language == "en" and subject == "[Sieť] How did we do?"
    assert email.render("self_fill", "de", values)[2] == "en"


def test_a_subject_is_one_line_whatever_the_values_hold() -> None:
    subject, _, _ = email.render(
        "notification", "en", {"organisation": "O", "title": "a\r\nBcc: x@evil.example"}
    )
    assert "\n" not in subject and "\r" not in subject


@given(st.integers(min_value=1, max_value=60))
def test_backoff_doubles_and_never_passes_its_ceiling(attempts: int) -> None:
    wait = email.backoff(attempts, 1.0, 300.0)
    assert timedelta(seconds=1) <= wait <= timedelta(seconds=300)
    assert email.backoff(attempts + 1, 1.0, 300.0) >= wait


QUIET = email.Preferences("org-demo", "w-anna", frozenset({"*"}), time(20, 0), time(7, 0))


def _quiet(moment: datetime, zone: ZoneInfo) -> bool:
    clock = moment.astimezone(zone).time().replace(tzinfo=None)
    return clock >= time(20, 0) or clock < time(7, 0)


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)))
def test_an_email_is_never_sent_inside_quiet_hours(moment: datetime) -> None:
    zone = ZoneInfo("Europe/Bratislava")
    now = moment.replace(tzinfo=UTC)
    at = email.send_after(QUIET, now, zone)
    assert at >= now
    assert not _quiet(at, zone)
    assert (at == now) == (not _quiet(now, zone))
    assert at - now <= timedelta(hours=12)


def test_quiet_hours_across_midnight_wait_until_the_morning() -> None:
    zone = ZoneInfo("UTC")
    late = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    assert email.send_after(QUIET, late, zone) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert email.send_after(QUIET, noon, zone) == noon


# -------------------------------------------------------------------- webhooks


def test_a_signature_verifies_only_with_its_secret_its_body_and_in_its_window() -> None:
    body = b'{"a":1}'
    header = webhooks.sign("s3cret", int(MOMENT.timestamp()), body)
    assert webhooks.verify("s3cret", header, body, MOMENT)
    assert not webhooks.verify("other", header, body, MOMENT)
    assert not webhooks.verify("s3cret", header, b'{"a":2}', MOMENT)
    assert not webhooks.verify("s3cret", header, body, MOMENT + timedelta(minutes=6))


def create_delivery() -> webhooks.Delivery:
    return webhooks.Delivery("s:e", "s", "org-demo", "e", "t", b"{}", MOMENT)


def test_failures_retry_with_growing_waits_then_a_dead_letter_and_a_replay_counts_anew() -> None:
    d = create_delivery()
    waits = []
    for n in range(3):
        at = MOMENT + timedelta(minutes=n)
        d = webhooks.after_attempt(
            d, webhooks.Attempt(at, 500, "HTTP 500"), max_attempts=3, base=1, ceiling=60
        )
        waits.append(d.next_attempt_at - at)
    assert d.state == webhooks.DEAD
    assert waits[0] < waits[1]
    replayed = webhooks.Delivery(
        **{
            **d.__dict__,
            "state": webhooks.PENDING,
            "attempts": (*d.attempts, webhooks.Attempt(MOMENT, webhooks.REPLAYED, "")),
        }
    )
    again = webhooks.after_attempt(
        replayed, webhooks.Attempt(MOMENT, 503, ""), max_attempts=3, base=1, ceiling=60
    )
    assert again.state == webhooks.PENDING
    ok = webhooks.after_attempt(
        again, webhooks.Attempt(MOMENT, 204, ""), max_attempts=3, base=1, ceiling=60
    )
    assert ok.state == webhooks.DELIVERED


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.4",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
    ],
)
def test_internal_addresses_are_refused_in_production_only(address: str) -> None:
    assert webhooks.refusal([address], production=True)
    assert webhooks.refusal([address], production=False) is None


def test_a_public_address_is_allowed_and_a_name_that_does_not_resolve_is_not() -> None:
    assert webhooks.refusal(["93.184.216.34"], production=True) is None
    assert webhooks.refusal([], production=True) == "does not resolve"


class FakeWebhooks:
    def __init__(self) -> None:
        self.added: list[Any] = []

    def add_subscription(self, subscription: Any) -> None:
        self.added.append(subscription)


def subscribe(url: str, resolved: list[str], production: bool) -> Any:
    uow = FakeUnitOfWork(_worker())
    return webhook_cases.create_subscription(
        webhook_cases.CreateSubscription("clients.consent.recorded.v1", url),
        uow,
        FakeWebhooks(),  # type: ignore[arg-type]
        known_event_types={"clients.consent.recorded.v1"},
        resolve=lambda _url: resolved,
        production=production,
    )


def _worker() -> Any:
    from casework_common.auth import Principal

    return Principal(
        organisation="org-demo",
        subject="w-admin",
        kind="worker",
        centres=frozenset(),
        roles=frozenset({"admin"}),
        scopes=frozenset(),
    )


def test_a_webhook_url_to_a_private_address_is_refused_in_production() -> None:
    with pytest.raises(InvalidArgument) as caught:
        subscribe("https://partner.example/hook", ["10.0.0.7"], production=True)
    assert caught.value.errors[0].field == "url"
    assert "private" in caught.value.errors[0].description
    with pytest.raises(InvalidArgument):
        subscribe("http://partner.example/hook", ["93.184.216.34"], production=True)
    assert subscribe("https://partner.example/hook", ["93.184.216.34"], production=True).secret
    assert subscribe("http://127.0.0.1:9/hook", ["127.0.0.1"], production=False).url


# --------------------------------------------------------------------- consent


def test_a_message_needs_its_own_consent() -> None:
    assert consent.require_consent("survey", {"feedback_calls"}) == "feedback_calls"
    with pytest.raises(FailedPrecondition):
        consent.require_consent("self_fill", {"feedback_calls"})


def test_the_later_consent_change_wins_whatever_order_they_arrive_in() -> None:
    withdrawn = consent.ConsentChange("o", "c", "feedback_calls", False, "2026-02-01", MOMENT, "e2")
    assert consent.newer(withdrawn, "2026-01-01", MOMENT + timedelta(days=9))
    assert not consent.newer(withdrawn, "2026-03-01", MOMENT)


# ------------------------------------------------------------------------ feed


def test_the_feed_passes_each_new_notification_once_to_its_workers_streams() -> None:
    rows: list[dict[str, Any]] = []
    feed = InboxFeed(poll=lambda since, workers: [r for r in rows if r["worker_id"] in workers])
    anna = feed.watch("org-demo", "w-anna")
    petr = feed.watch("org-demo", "w-petr")
    stored = datetime.now(UTC)
    raw = {
        "_id": "n-1",
        "organisation": "org-demo",
        "worker_id": "w-anna",
        "kind": "new_client",
        "title": "t",
        "created_at": stored,
        "stored_at": stored,
    }
    rows.append(raw)
    # The feed's own thread polls too: whoever polls, it is passed once.
    feed.poll_once()
    feed.poll_once()
    assert anna.get(timeout=5).notification_id == "n-1"
    feed.poll_once()
    with pytest.raises(queue.Empty):
        anna.get(timeout=0.3)
    with pytest.raises(queue.Empty):
        petr.get_nowait()
    feed.unwatch("org-demo", "w-anna", anna)
    feed.unwatch("org-demo", "w-petr", petr)
    assert feed.watching() == 0

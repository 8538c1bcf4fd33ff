"""notify's real processes (two events processes sharing the work), a real SMTP server
(aiosmtpd, as the devstack starts it) and a real HTTP receiver on loopback: reminders
fire once on time, also after notify was down; e-mails wait while the mail server is
down and arrive once it is up; partner webhooks are signed, retried, dead-lettered and
replayed; unread action notifications escalate up the centre's chain (messages to
clients: test_notify_client_messages.py)."""

from __future__ import annotations

import contextlib
import json
import mailbox
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from casework.clients.v1 import events_pb2 as clients_events
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common import contracts
from casework_common.envelope import Actor, EventEnvelope
from casework_common.messaging import Publisher
from casework_dev.devstack import REPO_ROOT, Suite, free_port, port_open, start_smtp
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub
from casework_notify.domain.webhooks import SIGNATURE_HEADER, verify

pytestmark = pytest.mark.e2e

SCHEDULE = "casework.notify.v1.NotifyService/ScheduleReminder"
CANCEL = "casework.notify.v1.NotifyService/CancelReminder"
PLANS = auth(create_token(kind="service", subject="svc-plans", roles=[], scopes=[SCHEDULE, CANCEL]))
FEEDBACK = auth(create_token(kind="service", subject="svc-feedback", roles=[], scopes=[SCHEDULE]))
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
PETR = auth(create_token(subject="w-petr", centres=["ctr-north-town", "ctr-north-village"]))
DUTY = auth(create_token(subject="w-duty-north", centres=["ctr-north-town"]))
MANAGER = auth(
    create_token(subject="w-manager-north", centres=["ctr-north-town"], roles=["manager"])
)
ADMIN = auth(create_token(subject="w-admin", centres=["ctr-north-town"], roles=["admin"]))


# ------------------------------------------------------------------------ peers


class Smtp:
    """aiosmtpd writing every message into a Maildir, started and stopped at will on
    one port (the port notify is configured with)."""

    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.run_dir = base / "smtp-run"
        self.mail_dir = base / "mail"

    def start(self) -> None:
        start_smtp(self.port, self.run_dir, self.mail_dir)

    def stop(self) -> None:
        pid_file = self.run_dir / "smtp.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            pid_file.unlink()
        eventually(lambda: not port_open(self.port), timeout=20)

    def messages(self) -> list[Any]:
        if not (self.mail_dir / "new").exists():
            return []
        return list(mailbox.Maildir(self.mail_dir, create=False))


def subject_of(message: Any) -> str:
    # Unfolded: a long subject is folded over lines on the wire.
    return " ".join(str(make_header(decode_header(message["Subject"]))).split())


class Receiver:
    """A partner's endpoint: answers `status` (or hangs `hang` seconds) and keeps what
    it was sent."""

    def __init__(self) -> None:
        self.status = 200
        self.hang = 0.0
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(({k: v for k, v in self.headers.items()}, body))
                if receiver.hang:
                    time.sleep(receiver.hang)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, event_id: str, subscription_id: str) -> list[tuple[dict[str, str], bytes]]:
        """What one subscription was sent for one event (each delivery's id is the
        subscription's and the event's)."""
        delivery = f"{subscription_id}:{event_id}"
        return [(h, b) for h, b in self.received if h.get("X-Casework-Delivery-Id") == delivery]


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smtp]:
    server = Smtp(tmp_path_factory.mktemp("smtp"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def suite(
    suite_factory: Any, smtp: Smtp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    # The organisation reads Slovak: e-mails come in Slovak where a text has it.
    organisation = json.loads((REPO_ROOT / "config" / "organisation.dev.json").read_text())
    organisation["language"] = "sk"
    org_file = tmp_path_factory.mktemp("org") / "organisation.json"
    org_file.write_text(json.dumps(organisation))
    yield suite_factory(
        ("notify",),
        env={
            "EVENTS_PROCESSES": "2",
            "CASEWORK_ORGANISATION_FILE": str(org_file),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_TIMEOUT_SECONDS": "2",
            "NOTIFY_TIMER_SECONDS": "0.1",
            "NOTIFY_SEND_TIMER_SECONDS": "0.1",
            "NOTIFY_EMAIL_RETRY_BASE_SECONDS": "0.2",
            "NOTIFY_EMAIL_RETRY_MAX_SECONDS": "1",
            "NOTIFY_WEBHOOK_MAX_ATTEMPTS": "3",
            "NOTIFY_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
            "NOTIFY_WEBHOOK_RETRY_MAX_SECONDS": "0.5",
            "NOTIFY_WEBHOOK_TIMEOUT_SECONDS": "1",
            "NOTIFY_ESCALATE_AFTER_SECONDS": "1",
        },
    )


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


# --------------------------------------------------------------------- helpers


def ts(moment: datetime) -> Timestamp:
    """To the millisecond, as notify keeps it."""
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def create_reminder(**overrides: Any) -> notify_pb2.Reminder:
    fields: dict[str, Any] = {
        "key": f"plan-review-{secrets.token_hex(4)}",
        "worker_id": "w-anna",
        "due_at": ts(datetime.now(UTC) + timedelta(seconds=1)),
        "kind": "plan_review_due",
        "title": "Review the plan of Jana N.",
        "body": "The individual plan's review is due.",
        "centre_id": "ctr-north-town",
        "links": [
            notify_pb2.Link(kind="plan", id="plan-1"),
            notify_pb2.Link(kind="client", id="cl-1"),
        ],
    }
    fields.update(overrides)
    return notify_pb2.Reminder(**fields)


def inbox(notify: Any, who: Any = ANNA) -> list[notify_pb2.Notification]:
    reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=who)
    return list(reply.notifications)


def fired(notify: Any, key: str, who: Any = ANNA) -> list[notify_pb2.Notification]:
    return [n for n in inbox(notify, who) if n.notification_id == f"reminder:svc-plans:{key}"]


def publish(suite: Suite, service: str, message: Any, event_id: str | None = None) -> EventEnvelope:
    event = contracts.envelope(
        message, organisation="org-demo", actor=Actor.system(service), trace={}
    )
    if event_id:
        event = EventEnvelope.from_dict({**event.to_dict(), "id": event_id})
    publisher = Publisher(suite.amqp_uris[service], "casework.events")
    try:
        publisher.publish_event(event.to_dict())
    finally:
        publisher.close()
    return event


def emails(notify: Any, state: int = notify_pb2.EMAIL_STATE_UNSPECIFIED) -> list[Any]:
    reply = notify.ListOutgoingEmails(
        notify_pb2.ListOutgoingEmailsRequest(state=state, page_size=200), metadata=MANAGER
    )
    return list(reply.emails)


# ------------------------------------------------------------------- reminders


def test_a_reminder_fires_once_at_its_time_into_the_workers_inbox(notify: Any) -> None:
    reminder = create_reminder()
    kept = notify.ScheduleReminder(
        notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS
    ).reminder
    assert kept.state == notify_pb2.REMINDER_STATE_SCHEDULED
    assert not fired(notify, reminder.key)

    note = eventually(lambda: fired(notify, reminder.key))[0]
    assert note.kind == "plan_review_due"
    assert [(link.kind, link.id) for link in note.links] == [("plan", "plan-1"), ("client", "cl-1")]
    assert note.created_at.ToDatetime(tzinfo=UTC) >= kept.due_at.ToDatetime(tzinfo=UTC)
    # Two events processes run the timer: still one notification, and the reminder
    # says it fired (cancelling now changes nothing).
    after = notify.CancelReminder(
        notify_pb2.CancelReminderRequest(key=reminder.key), metadata=PLANS
    ).reminder
    assert after.state == notify_pb2.REMINDER_STATE_FIRED
    assert len(fired(notify, reminder.key)) == 1


def test_scheduling_the_same_key_again_reschedules_one_reminder(notify: Any) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    reminder = create_reminder(due_at=ts(later))
    notify.ScheduleReminder(notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS)
    again = notify.ScheduleReminder(
        notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS
    ).reminder
    moved = create_reminder(key=reminder.key, due_at=ts(datetime.now(UTC) + timedelta(seconds=1)))
    rescheduled = notify.ScheduleReminder(
        notify_pb2.ScheduleReminderRequest(reminder=moved), metadata=PLANS
    ).reminder
    assert again.due_at == reminder.due_at
    assert rescheduled.due_at == moved.due_at
    assert len(eventually(lambda: fired(notify, reminder.key))) == 1


def test_a_reminder_in_the_past_is_refused_and_nothing_is_kept(notify: Any) -> None:
    reminder = create_reminder(due_at=ts(datetime.now(UTC) - timedelta(minutes=1)))
    with pytest.raises(grpc.RpcError) as caught:
        notify.ScheduleReminder(
            notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reminder.due_at" in caught.value.details() or caught.value.trailing_metadata()
    with pytest.raises(grpc.RpcError) as missing:
        notify.CancelReminder(notify_pb2.CancelReminderRequest(key=reminder.key), metadata=PLANS)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_cancelled_reminder_never_fires(notify: Any) -> None:
    reminder = create_reminder(due_at=ts(datetime.now(UTC) + timedelta(seconds=1)))
    notify.ScheduleReminder(notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS)
    cancelled = notify.CancelReminder(
        notify_pb2.CancelReminderRequest(key=reminder.key), metadata=PLANS
    ).reminder
    assert cancelled.state == notify_pb2.REMINDER_STATE_CANCELLED
    # A later reminder that fires proves the timers ran past the cancelled one's time.
    witness = create_reminder(due_at=ts(datetime.now(UTC) + timedelta(seconds=2)))
    notify.ScheduleReminder(notify_pb2.ScheduleReminderRequest(reminder=witness), metadata=PLANS)
    eventually(lambda: fired(notify, witness.key))
    assert not fired(notify, reminder.key)


def test_only_services_schedule_reminders_and_each_sees_only_its_own(notify: Any) -> None:
    reminder = create_reminder(due_at=ts(datetime.now(UTC) + timedelta(hours=1)))
    with pytest.raises(grpc.RpcError) as worker:
        notify.ScheduleReminder(
            notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=ANNA
        )
    assert worker.value.code() == grpc.StatusCode.PERMISSION_DENIED
    notify.ScheduleReminder(notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS)
    other = auth(create_token(kind="service", subject="svc-feedback", roles=[], scopes=[CANCEL]))
    with pytest.raises(grpc.RpcError) as foreign:
        notify.CancelReminder(notify_pb2.CancelReminderRequest(key=reminder.key), metadata=other)
    assert foreign.value.code() == grpc.StatusCode.NOT_FOUND


def test_reminders_due_while_notify_was_down_fire_once_on_its_return(
    suite: Suite, notify: Any
) -> None:
    suite.kill("notify", "events")
    due = datetime.now(UTC) + timedelta(seconds=1)
    keys = []
    for _ in range(20):
        reminder = create_reminder(due_at=ts(due))
        notify.ScheduleReminder(
            notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS
        )
        keys.append(reminder.key)
    eventually(lambda: datetime.now(UTC) > due + timedelta(seconds=1), timeout=10)
    ids = {f"reminder:svc-plans:{key}" for key in keys}
    assert not [n for n in inbox(notify) if n.notification_id in ids]

    suite.start("notify", "events")
    suite.wait_ready("notify", "events")
    eventually(lambda: len([n for n in inbox(notify) if n.notification_id in ids]) == 20)
    assert len([n for n in inbox(notify) if n.notification_id in ids]) == 20


# ---------------------------------------------------------------------- e-mail


def test_an_email_waits_pending_while_smtp_is_down_then_arrives_once(
    notify: Any, smtp: Smtp
) -> None:
    kind = f"plan_monitoring_due_{secrets.token_hex(3)}"
    notify.SetNotificationPreferences(
        notify_pb2.SetNotificationPreferencesRequest(
            preferences=notify_pb2.NotificationPreferences(email_kinds=[kind])
        ),
        metadata=PETR,
    )
    kept = notify.GetNotificationPreferences(
        notify_pb2.GetNotificationPreferencesRequest(), metadata=PETR
    ).preferences
    assert list(kept.email_kinds) == [kind]
    smtp.stop()
    try:
        reminder = create_reminder(worker_id="w-petr", kind=kind, title=f"Monitoring {kind}")
        notify.ScheduleReminder(
            notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS
        )
        email_id = f"notification:reminder:svc-plans:{reminder.key}"

        def pending_after_a_failure() -> Any:
            found = [
                e for e in emails(notify, notify_pb2.EMAIL_STATE_PENDING) if e.email_id == email_id
            ]
            return found[0] if found and found[0].attempts >= 2 else None

        waiting = eventually(pending_after_a_failure)
        assert waiting.last_error
        assert waiting.recipient == "petr@demo.casework.test"
    finally:
        smtp.start()

    def arrived() -> list[Any]:
        return [
            m for m in smtp.messages() if m["X-Casework-Email-Id"] == email_id.replace(":", "-")
        ]

    message = eventually(arrived)[0]
    assert (
        subject_of(message)
        == f"[Demo regional network of social-service centres] Monitoring {kind}"
    )
    assert message["Content-Language"] == "sk"
    assert "Dobrý deň" in message.get_payload(decode=True).decode()
    sent = eventually(
        lambda: [e for e in emails(notify, notify_pb2.EMAIL_STATE_SENT) if e.email_id == email_id]
    )
    assert sent[0].state == notify_pb2.EMAIL_STATE_SENT
    assert len(arrived()) == 1


def test_a_kind_the_worker_did_not_choose_sends_no_email(notify: Any) -> None:
    reminder = create_reminder(worker_id="w-anna", kind="not_chosen")
    notify.ScheduleReminder(notify_pb2.ScheduleReminderRequest(reminder=reminder), metadata=PLANS)
    eventually(lambda: fired(notify, reminder.key))
    email_id = f"notification:reminder:svc-plans:{reminder.key}"
    assert not [e for e in emails(notify) if e.email_id == email_id]


def test_preferences_with_a_half_quiet_span_are_refused(notify: Any) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        notify.SetNotificationPreferences(
            notify_pb2.SetNotificationPreferencesRequest(
                preferences=notify_pb2.NotificationPreferences(quiet_from="22:00")
            ),
            metadata=ANNA,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -------------------------------------------------------------------- webhooks


def subscribe(notify: Any, url: str, event_type: str = "clients.consent.recorded.v1") -> Any:
    return notify.CreateWebhookSubscription(
        notify_pb2.CreateWebhookSubscriptionRequest(event_type=event_type, url=url),
        metadata=ADMIN,
    )


def consent_event(client_id: str) -> Any:
    return clients_events.ConsentRecorded(
        client_id=client_id,
        consent_id="cs-9",
        purpose="data_processing",
        on="2026-11-30",
        recorded_by="w-anna",
    )


def deliveries(notify: Any, subscription_id: str, dead_only: bool = False) -> list[Any]:
    reply = notify.ListWebhookDeliveries(
        notify_pb2.ListWebhookDeliveriesRequest(
            subscription_id=subscription_id, dead_only=dead_only
        ),
        metadata=ADMIN,
    )
    return list(reply.deliveries)


def test_a_partner_receives_each_event_once_signed_with_its_secret(
    suite: Suite, notify: Any, receiver: Receiver
) -> None:
    receiver.status, receiver.hang = 200, 0.0
    created = subscribe(notify, receiver.url)
    event_id = secrets.token_hex(8)
    message = consent_event(f"cl-{secrets.token_hex(4)}")
    publish(suite, "clients", message, event_id=event_id)
    publish(suite, "clients", message, event_id=event_id)  # redelivered

    subscription_id = created.subscription.subscription_id
    headers, body = eventually(lambda: receiver.bodies(event_id, subscription_id))[0]
    assert verify(created.secret, headers[SIGNATURE_HEADER], body, datetime.now(UTC))
    assert not verify("another secret", headers[SIGNATURE_HEADER], body, datetime.now(UTC))
    sent = json.loads(body)
    assert sent["event_type"] == "clients.consent.recorded.v1"
    assert sent["payload"] == contracts.encode(message)
    log = eventually(
        lambda: [
            d
            for d in deliveries(notify, subscription_id)
            if d.state == notify_pb2.DELIVERY_STATE_DELIVERED
        ]
    )
    assert [d.event_id for d in log] == [event_id]
    assert len(receiver.bodies(event_id, subscription_id)) == 1


def test_a_failing_partner_is_retried_dead_lettered_and_replayed(
    suite: Suite, notify: Any, receiver: Receiver
) -> None:
    receiver.status, receiver.hang = 500, 0.0
    created = subscribe(notify, receiver.url)
    subscription_id = created.subscription.subscription_id
    event_id = secrets.token_hex(8)
    publish(suite, "clients", consent_event("cl-500"), event_id=event_id)

    dead = eventually(lambda: deliveries(notify, subscription_id, dead_only=True))[0]
    assert [a.status_code for a in dead.attempts] == [500, 500, 500]
    assert len(receiver.bodies(event_id, subscription_id)) == 3

    receiver.status = 200
    replayed = notify.ReplayWebhookDelivery(
        notify_pb2.ReplayWebhookDeliveryRequest(delivery_id=dead.delivery_id), metadata=ADMIN
    ).delivery
    assert replayed.state == notify_pb2.DELIVERY_STATE_PENDING
    done = eventually(
        lambda: [
            d
            for d in deliveries(notify, subscription_id)
            if d.state == notify_pb2.DELIVERY_STATE_DELIVERED
        ]
    )[0]
    assert [a.status_code for a in done.attempts] == [500, 500, 500, -1, 200]
    with pytest.raises(grpc.RpcError) as again:
        notify.ReplayWebhookDelivery(
            notify_pb2.ReplayWebhookDeliveryRequest(delivery_id=dead.delivery_id), metadata=ADMIN
        )
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_hanging_partner_times_out_and_is_dead_lettered(
    suite: Suite, notify: Any, receiver: Receiver
) -> None:
    receiver.status, receiver.hang = 200, 3.0
    try:
        created = subscribe(notify, receiver.url)
        event_id = secrets.token_hex(8)
        publish(suite, "clients", consent_event("cl-hang"), event_id=event_id)
        dead = eventually(
            lambda: deliveries(notify, created.subscription.subscription_id, dead_only=True),
            timeout=30,
        )[0]
        assert all(a.status_code == 0 and "timed out" in a.error for a in dead.attempts)
    finally:
        receiver.hang = 0.0


def test_a_subscription_to_an_unknown_event_type_is_refused(notify: Any) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        subscribe(notify, "https://partner.example/hook", event_type="nobody.nothing.v1")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_only_admins_manage_webhooks(notify: Any) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        notify.ListWebhookSubscriptions(notify_pb2.ListWebhookSubscriptionsRequest(), metadata=ANNA)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


# ------------------------------------------------------------------ escalation


def test_an_unread_new_client_escalates_to_the_duty_worker_then_the_manager(
    suite: Suite, notify: Any
) -> None:
    client_id = f"cl-{secrets.token_hex(4)}"
    publish(
        suite,
        "clients",
        clients_events.ClientRegistered(
            client_id=client_id,
            referral_id=f"ref-{secrets.token_hex(4)}",
            display_name="Jana N.",
            centre_id="ctr-north-town",
            client_type="senior",
            problem_type="housing",
        ),
    )
    original = eventually(lambda: [n for n in inbox(notify, ANNA) if n.client_id == client_id])[0]
    assert original.needs_action

    duty = eventually(
        lambda: [n for n in inbox(notify, DUTY) if n.client_id == client_id], timeout=20
    )[0]
    assert duty.kind == "escalated"
    assert duty.priority == notify_pb2.PRIORITY_URGENT
    manager = eventually(
        lambda: [n for n in inbox(notify, MANAGER) if n.client_id == client_id], timeout=20
    )[0]
    assert manager.notification_id.endswith(":escalated:2")
    assert len([n for n in inbox(notify, DUTY) if n.client_id == client_id]) == 1


def test_a_notification_read_in_time_does_not_escalate(suite: Suite, notify: Any) -> None:
    client_id = f"cl-{secrets.token_hex(4)}"
    publish(
        suite,
        "clients",
        clients_events.ClientRegistered(
            client_id=client_id,
            referral_id=f"ref-{secrets.token_hex(4)}",
            display_name="Jan N.",
            centre_id="ctr-north-town",
            client_type="senior",
            problem_type="debt",
        ),
    )
    original = eventually(lambda: [n for n in inbox(notify, ANNA) if n.client_id == client_id])[0]
    notify.MarkNotificationRead(
        notify_pb2.MarkNotificationReadRequest(notification_id=original.notification_id),
        metadata=ANNA,
    )
    # A later escalation proves the escalation timer ran past this one's moment.
    test_an_unread_new_client_escalates_to_the_duty_worker_then_the_manager(suite, notify)
    assert not [n for n in inbox(notify, DUTY) if n.client_id == client_id]


# ------------------------------------------------------------------ plans' news


def test_plans_review_overdue_and_a_decision_requested_reach_their_inboxes(
    suite: Suite, notify: Any
) -> None:
    from casework.plans.v1 import events_pb2 as plans_events

    plan_id = f"plan-{secrets.token_hex(4)}"
    publish(
        suite,
        "plans",
        plans_events.ReviewOverdue(
            plan_id=plan_id,
            client_id="cl-7",
            worker_id="w-anna",
            centre_ids=["ctr-north-town"],
            due_on="2026-11-30",
            version=1,
        ),
    )
    publish(
        suite,
        "plans",
        plans_events.DecisionRequested(
            plan_id=plan_id,
            client_id="cl-7",
            service_code="home_care",
            requested_by="w-anna",
            centre_ids=["ctr-north-town"],
            worker_id="w-anna",
        ),
    )
    overdue = eventually(lambda: [n for n in inbox(notify, ANNA) if n.subject_id == plan_id])[0]
    assert overdue.kind == "plan_review_overdue"
    assert [(link.kind, link.id) for link in overdue.links] == [
        ("plan", plan_id),
        ("client", "cl-7"),
    ]
    asked = eventually(lambda: [n for n in inbox(notify, MANAGER) if n.subject_id == plan_id])[0]
    assert asked.kind == "plan_decision_requested"
    assert asked.needs_action


# ---------------------------------------------------------------- feedback's news


def test_feedbacks_complaint_deadline_and_follow_up_calls_reach_their_inboxes(
    suite: Suite, notify: Any
) -> None:
    from casework.feedback.v1 import events_pb2 as feedback_events

    complaint_id = f"cmp-{secrets.token_hex(4)}"
    publish(
        suite,
        "feedback",
        feedback_events.ComplaintDeadlineMissed(
            complaint_id=complaint_id,
            centre_id="ctr-north-town",
            manager_id="w-manager-north",
            answer_due=ts(datetime.now(UTC) - timedelta(days=1)),
        ),
    )
    call, cancelled = f"call-{secrets.token_hex(4)}", f"call-{secrets.token_hex(4)}"
    for call_id in (call, cancelled):
        publish(
            suite,
            "feedback",
            feedback_events.FollowUpCallScheduled(
                call_id=call_id,
                kind="phone_survey",
                centre_id="ctr-north-town",
                client_id="cl-9",
                assignee_id="w-petr",
                due_at=ts(datetime.now(UTC) + timedelta(seconds=3)),
            ),
        )
    publish(
        suite,
        "feedback",
        feedback_events.FollowUpCallCancelled(
            call_id=cancelled, centre_id="ctr-north-town", client_id="cl-9", assignee_id="w-petr"
        ),
    )
    missed = eventually(
        lambda: [n for n in inbox(notify, MANAGER) if n.subject_id == complaint_id]
    )[0]
    assert (missed.kind, missed.priority) == (
        "complaint_deadline_missed",
        notify_pb2.PRIORITY_URGENT,
    )
    due = eventually(lambda: [n for n in inbox(notify, PETR) if n.subject_id == call])[0]
    assert due.kind == "follow_up_call_due"
    assert not [n for n in inbox(notify, PETR) if n.subject_id == cancelled]

"""Specification of the notifications in a worker's inbox for a new client (pure
domain, no server). Who the recipients are is the shared routing algorithm's
(tests/lib/test_routing.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from casework_common.routing import Recipient
from casework_notify.domain.client_news import ClientArrived, notify_responsible
from casework_notify.domain.inbox import Notification, mark_read, notification_id

T0 = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def create_arrival(**overrides: Any) -> ClientArrived:
    fields: dict[str, Any] = {
        "event_id": "evt-1",
        "organisation": "org-demo",
        "client_id": "cl-1",
        "referral_id": "ref-1",
        "display_name": "Jana Nováková",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "returning": False,
    }
    fields.update(overrides)
    return ClientArrived(**fields)


def create_notification(**overrides: Any) -> Notification:
    (notification,) = notify_responsible(
        create_arrival(), [Recipient("w-anna", "routing rule r (priority 1)")], T0
    )
    return replace(notification, **overrides)


# ------------------------------------------------------------------------ inbox


def test_notification_id_is_derived_from_event_and_worker() -> None:
    assert notification_id("evt-1", "w-anna") == "evt-1:w-anna"
    assert notification_id("evt-1", "w-anna") != notification_id("evt-1", "w-petr")
    assert notification_id("evt-1", "w-anna") != notification_id("evt-2", "w-anna")


def test_each_recipient_gets_a_new_client_notification() -> None:
    recipients = [
        Recipient("w-anna", "routing rule a (priority 10)"),
        Recipient("w-petr", "routing rule a (priority 10)"),
    ]

    notifications = notify_responsible(create_arrival(), recipients, T0)

    assert notifications == [
        Notification(
            notification_id=f"evt-1:{worker}",
            organisation="org-demo",
            worker_id=worker,
            kind="new_client",
            title="New client: Jana Nováková",
            body="Jana Nováková was referred to ctr-north-town (senior, housing). "
            "Please make first contact.",
            client_id="cl-1",
            referral_id="ref-1",
            centre_id="ctr-north-town",
            routing_reason="routing rule a (priority 10)",
            created_at=T0,
            read_at=None,
            subject_kind="client",
            subject_id="cl-1",
        )
        for worker in ("w-anna", "w-petr")
    ]


def test_a_returning_client_is_announced_as_returning() -> None:
    (notification,) = notify_responsible(
        create_arrival(returning=True), [Recipient("w-anna", "r")], T0
    )

    assert notification.kind == "returning_client"
    assert notification.title == "Returning client: Jana Nováková"
    assert (notification.subject_kind, notification.subject_id) == ("client", "cl-1")


def test_a_redelivered_event_lands_on_the_same_notification_ids() -> None:
    recipients = [Recipient("w-anna", "r"), Recipient("w-petr", "r")]

    first = notify_responsible(create_arrival(), recipients, T0)
    again = notify_responsible(create_arrival(), recipients, T0 + timedelta(minutes=5))
    other = notify_responsible(create_arrival(event_id="evt-2"), recipients, T0)

    assert [n.notification_id for n in again] == [n.notification_id for n in first]
    assert {n.notification_id for n in other}.isdisjoint(n.notification_id for n in first)


def test_no_recipient_means_no_notification() -> None:
    assert notify_responsible(create_arrival(), [], T0) == []


def test_mark_read_records_when_it_was_read() -> None:
    read = mark_read(create_notification(), T0 + timedelta(hours=1))

    assert read.read_at == T0 + timedelta(hours=1)
    assert read == replace(create_notification(), read_at=T0 + timedelta(hours=1))


def test_mark_read_keeps_the_first_read_time() -> None:
    first = mark_read(create_notification(), T0 + timedelta(hours=1))

    again = mark_read(first, T0 + timedelta(hours=5))

    assert again.read_at == T0 + timedelta(hours=1)
    assert again == first

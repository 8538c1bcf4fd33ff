"""A worker's live inbox: a stream held open sees a referral arrive, through real
processes (intake -> RabbitMQ -> clients -> RabbitMQ -> notify's events process, which
stores it and hints the api processes over the broker that the inbox changed; they
look at once). notify's api runs as two processes sharing the port, so the stream and
the writer are never the same process, and whichever api process holds the stream must
see it. The fallback poll is set far beyond the tests' patience: what arrives came by
the hint."""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
PETR = auth(create_token(subject="w-petr", centres=["ctr-north-town", "ctr-north-village"]))
PARTNER = auth(create_partner_token())


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    yield suite_factory(
        ("intake", "clients", "notify"),
        env={"API_PROCESSES": "2", "NOTIFY_WATCH_POLL_SECONDS": "600"},
    )


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


def create_referral() -> intake_pb2.SubmitReferralRequest:
    """A partner referral of a new person to North Town about housing (Anna's rule)."""
    return intake_pb2.SubmitReferralRequest(
        idempotency_key=f"key-{secrets.token_hex(8)}",
        person=intake_pb2.Person(
            given_name="Jana",
            family_name=f"Nováková-{secrets.token_hex(3)}",
            date_of_birth="1961-04-12",
        ),
        contact=intake_pb2.Contact(phone="+421 900 123 456"),
        centre_id="ctr-north-town",
        client_type="senior",
        problem_type="housing",
        channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
        free_text="Lives alone; the landlord wants her out by the end of the month.",
    )


class Watch:
    """A WatchInbox stream read on a thread of its own."""

    def __init__(self, notify: Any, who: Any) -> None:
        self.updates: queue.Queue[notify_pb2.WatchInboxResponse] = queue.Queue()
        self.call = notify.WatchInbox(notify_pb2.WatchInboxRequest(), metadata=who)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for update in self.call:
                self.updates.put(update)
        except grpc.RpcError:
            pass

    def next(self, timeout: float = 30.0) -> notify_pb2.WatchInboxResponse:
        return self.updates.get(timeout=timeout)

    def until(self, referral_id: str) -> notify_pb2.WatchInboxResponse:
        """The first update about this referral."""
        while True:
            update = self.next()
            if update.notification.referral_id == referral_id:
                return update

    def close(self) -> None:
        self.call.cancel()


def test_a_watching_worker_sees_a_referral_arrive_with_its_links_and_counts(
    suite: Suite, notify: Any
) -> None:
    intake = stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)
    watch = Watch(notify, ANNA)
    try:
        first = watch.next()
        assert not first.HasField("notification")
        before = first.unread_by_kind.get("new_client", 0)

        referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral

        update = watch.until(referral.referral_id)
        note = update.notification

        assert note.referral_id == referral.referral_id
        assert note.kind == "new_client"
        assert note.priority == notify_pb2.PRIORITY_HIGH
        assert note.needs_action
        assert [(link.kind, link.id) for link in note.links] == [
            ("client", note.client_id),
            ("referral", referral.referral_id),
        ]
        assert update.unread_by_kind["new_client"] == before + 1
        assert update.unread_count == sum(update.unread_by_kind.values())
    finally:
        watch.close()

    listed = notify.ListInbox(notify_pb2.ListInboxRequest(unread_only=True), metadata=ANNA)
    assert listed.unread_by_kind["new_client"] == before + 1


def test_a_stream_sees_only_its_own_workers_notifications(suite: Suite, notify: Any) -> None:
    intake = stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)
    petr = Watch(notify, PETR)
    anna = Watch(notify, ANNA)
    try:
        petr.next()
        anna.next()
        referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
        # A stream may open with what was stored a moment before it (writers' clocks
        # may lag); the referral's arrives after those.
        assert anna.until(referral.referral_id).notification.kind == "new_client"
        # Petr's stream stays silent: Anna's referral is not his.
        with pytest.raises(queue.Empty):
            petr.updates.get(timeout=1.0)
    finally:
        petr.close()
        anna.close()


def test_a_stream_without_a_valid_token_is_refused(notify: Any) -> None:
    call = notify.WatchInbox(
        notify_pb2.WatchInboxRequest(), metadata=auth("not-a-token"), timeout=10
    )
    with pytest.raises(grpc.RpcError) as caught:
        next(iter(call))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_service_has_no_live_inbox(notify: Any) -> None:
    token = create_token(
        kind="service",
        subject="svc-plans",
        scopes=["casework.notify.v1.NotifyService/WatchInbox"],
        roles=[],
    )
    call = notify.WatchInbox(notify_pb2.WatchInboxRequest(), metadata=auth(token), timeout=10)
    with pytest.raises(grpc.RpcError) as caught:
        next(iter(call))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_unread_counts_fall_when_a_notification_is_read(suite: Suite, notify: Any) -> None:
    intake = stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral

    def entry() -> Any:
        reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=ANNA)
        return next((n for n in reply.notifications if n.referral_id == referral.referral_id), None)

    note = eventually(entry)
    before = notify.ListInbox(notify_pb2.ListInboxRequest(), metadata=ANNA).unread_by_kind
    notify.MarkNotificationRead(
        notify_pb2.MarkNotificationReadRequest(notification_id=note.notification_id),
        metadata=ANNA,
    )
    after = notify.ListInbox(notify_pb2.ListInboxRequest(), metadata=ANNA).unread_by_kind
    assert after.get("new_client", 0) == before["new_client"] - 1

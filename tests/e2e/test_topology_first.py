"""The topology step declares every consumer queue before anything publishes: a referral
submitted while clients and notify have never run waits in their queues, not in the
unrouted queue, and reaches the inbox once they start."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import kombu
import pytest

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

PARTNER = auth(create_partner_token())
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    suite = suite_factory(("intake",))
    suite.declare_topology()
    yield suite


def create_referral() -> intake_pb2.SubmitReferralRequest:
    return intake_pb2.SubmitReferralRequest(
        idempotency_key=f"key-{secrets.token_hex(8)}",
        person=intake_pb2.Person(
            given_name="Jana",
            family_name=f"Topology-{secrets.token_hex(3)}",
            date_of_birth="1961-04-12",
        ),
        contact=intake_pb2.Contact(phone="+421 900 123 456"),
        centre_id="ctr-north-town",
        client_type="senior",
        problem_type="housing",
        channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
        free_text="Lives alone.",
    )


def waiting(suite: Suite, queue: str) -> int:
    with kombu.Connection(suite.env["AMQP_URI"]) as connection:
        return int(connection.default_channel.queue_declare(queue, passive=True).message_count)


def test_a_referral_submitted_before_its_consumers_ever_ran_reaches_the_inbox_once_they_start(
    suite: Suite,
) -> None:
    intake = stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral

    eventually(lambda: waiting(suite, "clients.register-referred-person"))
    assert waiting(suite, "casework.events.unrouted") == 0

    for service in ("clients", "notify"):
        for process in ("api", "events"):
            suite.start(service, process)
    for service in ("clients", "notify"):
        for process in ("api", "events"):
            suite.wait_ready(service, process)

    notify = stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)

    def inbox_entry() -> Any:
        reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=ANNA)
        return next((n for n in reply.notifications if n.referral_id == referral.referral_id), None)

    note = eventually(inbox_entry, timeout=60)
    assert note.kind == "new_client"
    assert waiting(suite, "casework.events.unrouted") == 0


def test_an_events_process_meeting_a_queue_of_another_type_stops_naming_it_and_what_to_do(
    suite: Suite,
) -> None:
    tier = "plans.retry.1s"
    with kombu.Connection(suite.env["AMQP_URI"]) as connection:
        channel = connection.channel()
        channel.queue_delete(tier)
        # As an earlier release declared it: a classic queue.
        channel.queue_declare(tier, durable=True, auto_delete=False)

    suite.start("plans", "events")
    process = suite.processes["plans-events"]

    assert process.wait(timeout=120) != 0
    log = (suite.run_dir / "plans-events.log").read_text(errors="replace")
    assert tier in log and "delete_queue" in log and "CASEWORK_QUEUE_TYPE" in log

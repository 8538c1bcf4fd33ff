"""A database outage longer than a queue's delivery limit could absorb strands nothing:
the events that meet it wait in delayed retries and are handled once it is back.
Real processes, a MongoDB-wire server of this module's own (stopped and started here)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import kombu
import pymongo
import pytest

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_common.messaging import DELIVERY_LIMIT, Publisher
from casework_dev.devstack import Suite, free_port, start_mongo, stop_mongo
from casework_dev.testing.fixtures import create_partner_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

PARTNER = auth(create_partner_token())
QUEUE = "clients.register-referred-person"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("outage-mongo")
    port = free_port()
    start_mongo(base / "data", port, base / "run")
    yield {"port": port, "base": base, "uri": f"mongodb://127.0.0.1:{port}"}
    stop_mongo(port, base / "run")


@pytest.fixture(scope="module")
def suite(suite_factory: Any, database: dict[str, Any]) -> Iterator[Suite]:
    yield suite_factory(
        ("intake", "clients", "notify"),
        env={
            "MONGO_URI": database["uri"],
            # Short delays and a short wait for an unreachable server: many attempts fit
            # in a short outage, far more than the queue's delivery limit.
            "CASEWORK_RETRY_DELAYS": "0.25,0.5,1",
            "MONGO_SERVER_SELECTION_MS": "300",
        },
    )


def create_referral(**overrides: Any) -> intake_pb2.SubmitReferralRequest:
    fields: dict[str, Any] = {
        "family_name": f"Outage-{secrets.token_hex(3)}",
        "centre_id": "ctr-north-town",
    }
    fields.update(overrides)
    return intake_pb2.SubmitReferralRequest(
        idempotency_key=f"key-{secrets.token_hex(8)}",
        person=intake_pb2.Person(
            given_name="Jana", family_name=fields["family_name"], date_of_birth="1961-04-12"
        ),
        contact=intake_pb2.Contact(phone="+421 900 123 456"),
        centre_id=fields["centre_id"],
        client_type="senior",
        problem_type="housing",
        channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
        free_text="Lives alone.",
    )


def queue_depth(suite: Suite, queue: str) -> int:
    with kombu.Connection(suite.env["AMQP_URI"]) as connection:
        return int(connection.default_channel.queue_declare(queue, passive=True).message_count)


def highest_attempt(suite: Suite) -> int:
    attempts = [0]
    for line in (suite.run_dir / "clients-events.log").read_text(errors="replace").splitlines():
        if "retrying later" in line:
            attempts.append(int(json.loads(line).get("attempt") or 0))
    return max(attempts)


def test_a_database_outage_longer_than_the_delivery_limit_dead_letters_nothing(
    suite: Suite, database: dict[str, Any]
) -> None:
    intake = stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)
    # Hold the events back from their consumer, to hand them over once the database is away.
    suite.stop("clients", "events")
    referrals = [
        intake.SubmitReferral(create_referral(), metadata=PARTNER).referral for _ in range(5)
    ]
    eventually(lambda: queue_depth(suite, QUEUE) == 5, timeout=30)
    held = []
    with kombu.Connection(suite.env["AMQP_URI"]) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue=QUEUE, no_ack=True)) is not None:
            held.append(message)
    suite.start("clients", "events")
    suite.wait_ready("clients", "events")

    stop_mongo(database["port"], database["base"] / "run")
    intake_publisher = Publisher(suite.amqp_uris["intake"], "casework.events")
    try:
        for message in held:
            intake_publisher.publish_raw(
                message.body,
                exchange="casework.events",
                routing_key=message.delivery_info["routing_key"],
                headers=dict(message.headers or {}),
                message_id=message.properties.get("message_id"),
            )
    finally:
        intake_publisher.close()
    # Every event has now failed on more attempts than the queue would deliver it.
    eventually(lambda: highest_attempt(suite) > DELIVERY_LIMIT + 1, timeout=120, interval=0.5)
    start_mongo(database["base"] / "data", database["port"], database["base"] / "run")

    client: pymongo.MongoClient[Any] = pymongo.MongoClient(database["uri"])
    prefix = suite.env["MONGO_DB_PREFIX"]
    try:
        for referral in referrals:
            eventually(
                lambda r=referral: (
                    client[f"{prefix}_clients"].clients.count_documents(
                        {"referral_ids": r.referral_id}
                    )
                    == 1
                ),
                timeout=60,
            )
            eventually(
                lambda r=referral: (
                    client[f"{prefix}_notify"].notifications.count_documents(
                        {"referral_id": r.referral_id}
                    )
                    >= 1
                ),
                timeout=60,
            )
    finally:
        client.close()
    assert queue_depth(suite, "casework.events.dead-letter") == 0
    assert queue_depth(suite, QUEUE) == 0


def test_the_consumers_service_has_delay_tiers_that_returned_everything(suite: Suite) -> None:
    depth = {tier: queue_depth(suite, f"clients.retry.{tier}") for tier in ("0.25s", "0.5s", "1s")}
    assert depth == {"0.25s": 0, "0.5s": 0, "1s": 0}
    # The sweeper says once that it waits for the database, and once that it is back:
    # no traceback per tick for as long as the outage lasts.
    log = (suite.run_dir / "clients-events.log").read_text(errors="replace")
    assert log.count("outbox sweep deferred until the database and broker answer") == 1
    assert "outbox sweep resumed" in log
    assert "[clients.sweep_outbox]" not in log

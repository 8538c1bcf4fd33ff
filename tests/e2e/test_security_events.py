"""Events come from who they say: each service publishes as a broker user of its own,
which may publish only its own events, and consumers believe an event only from the user
of the service that owns it. Each test is an attack on the running suite, made through
the broker as an outsider holding some credential would."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import kombu
import pymongo
import pytest

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework_common.envelope import Actor, EventEnvelope
from casework_common.messaging import (
    EVENT_CONTENT_TYPE,
    Publisher,
    PublishRefused,
    dead_letter_exchange,
)
from casework_dev.clients_testing import register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ORG = "org-demo"
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
EXCHANGE = "casework.events"


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    started: Suite = suite_factory(("clients", "notify"))
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def notify_db(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client[f"{suite.env['MONGO_DB_PREFIX']}_notify"]
    client.close()


class DeadLetters:
    """The suite's dead-letter queue, read as its administrator; letters are found by
    the id of the event they carry."""

    def __init__(self, amqp_uri: str) -> None:
        self._connection = kombu.Connection(amqp_uri)
        self._queue = self._connection.SimpleQueue(
            kombu.Queue(
                f"{EXCHANGE}.dead-letter",
                exchange=dead_letter_exchange(EXCHANGE),
                routing_key="#",
                durable=True,
            )
        )
        self._seen: dict[str, dict[str, Any]] = {}

    def of(self, event_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while event_id not in self._seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no dead letter of {event_id} within {timeout}s")
            try:
                message = self._queue.get(timeout=remaining)
            except self._queue.Empty:
                continue
            message.ack()
            try:
                parked_id = json.loads(message.body)["id"]
            except (ValueError, KeyError, TypeError):
                continue
            self._seen[parked_id] = {
                **message.headers,
                "user_id": message.properties.get("user_id"),
            }
        return self._seen[event_id]

    def close(self) -> None:
        self._queue.close()
        self._connection.release()


@pytest.fixture(scope="module")
def dead_letters(suite: Suite) -> Iterator[DeadLetters]:
    watcher = DeadLetters(suite.env["AMQP_URI"])
    yield watcher
    watcher.close()


def create_event(event_type: str, payload: dict[str, Any], **overrides: Any) -> EventEnvelope:
    fields: dict[str, Any] = {
        "type": event_type,
        "version": 1,
        "organisation": ORG,
        "actor": Actor("system", event_type.split(".")[0]),
        "payload": payload,
    }
    fields.update(overrides)
    return EventEnvelope(**fields)


def contract_signed(client_id: str, contract_id: str) -> EventEnvelope:
    return create_event(
        "documents.contract.signed",
        {
            "client_id": client_id,
            "contract_id": contract_id,
            "signed_on": date.today().isoformat(),
            "valid_until": "",
        },
    )


def routing_rules(version: int, worker: str) -> EventEnvelope:
    return create_event(
        "intake.routing_rules.published",
        {
            "version": version,
            "fallback": "centre_duty_worker",
            "rules": [{"id": "r-all", "priority": 1, "workers": [worker]}],
        },
    )


def publish_as(suite: Suite, service: str, event: EventEnvelope) -> None:
    """Publish as the service's own broker user, as its processes do."""
    publisher = Publisher(suite.amqp_uris[service], EXCHANGE)
    try:
        publisher.publish_event(event.to_dict())
    finally:
        publisher.close()


def publish_with_shared_credential(
    suite: Suite, event: EventEnvelope, routing_key: str | None = None, **properties: Any
) -> None:
    """Publish as a user the broker lets publish anything (the vhost's administrator, as
    guest was for every service before), confirmed by the broker."""
    with kombu.Connection(
        suite.env["AMQP_URI"], transport_options={"confirm_publish": True}
    ) as connection:
        kombu.Producer(connection.default_channel).publish(
            event.to_json(),
            exchange=EXCHANGE,
            routing_key=routing_key or event.routing_key,
            content_type=EVENT_CONTENT_TYPE,
            content_encoding="binary",
            delivery_mode=2,
            **properties,
        )


def card(clients: Any, client_id: str) -> pb.Client:
    return clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=ANNA).client


def contract_ids(clients: Any, client_id: str) -> set[str]:
    return {c.contract_id for c in card(clients, client_id).contracts}


# ------------------------------------------------------------------ a client made a Service user


def test_a_contract_signed_published_by_intake_is_refused_by_the_broker(
    suite: Suite, clients: Any
) -> None:
    applicant = register(clients)
    forged = contract_signed(applicant.client_id, f"k-forged-{secrets.token_hex(3)}")

    with pytest.raises(PublishRefused, match="ACCESS_REFUSED"):
        publish_as(suite, "intake", forged)

    # What documents publishes goes through; the forgery, queued before it, never did.
    genuine = contract_signed(applicant.client_id, f"k-{secrets.token_hex(3)}")
    publish_as(suite, "documents", genuine)
    signed = eventually(
        lambda: (
            (c := card(clients, applicant.client_id)).status == pb.CLIENT_STATUS_SERVICE_USER and c
        ),
        timeout=30,
    )
    assert {c.contract_id for c in signed.contracts} == {genuine.payload["contract_id"]}


def test_a_contract_signed_from_a_user_that_is_not_documents_is_dead_lettered_and_the_card_stays(
    suite: Suite, clients: Any, dead_letters: DeadLetters
) -> None:
    applicant = register(clients)
    unnamed = contract_signed(applicant.client_id, "k-unnamed")
    self_named = contract_signed(applicant.client_id, "k-self-named")
    administrator = suite.env["AMQP_URI"].split("://", 1)[1].split(":", 1)[0]

    publish_with_shared_credential(suite, unnamed)
    publish_with_shared_credential(suite, self_named, user_id=administrator)

    first = dead_letters.of(unnamed.id)
    assert first["x-casework-consumer"] == "clients.apply-contract"
    assert first["x-casework-reason"].startswith("publisher-unknown")
    second = dead_letters.of(self_named.id)
    assert second["x-casework-reason"].startswith("publisher-not-owner")
    assert second["x-casework-publisher"] == administrator
    after = card(clients, applicant.client_id)
    assert after.status == pb.CLIENT_STATUS_APPLICANT
    assert not after.contracts


def test_a_message_claiming_to_be_from_documents_is_refused_by_the_broker(
    suite: Suite, clients: Any
) -> None:
    applicant = register(clients)
    claimed = suite.env["CASEWORK_BROKER_USER_PREFIX"] + "documents"

    with pytest.raises(Exception, match="PRECONDITION_FAILED"):
        publish_with_shared_credential(
            suite, contract_signed(applicant.client_id, "k-claimed"), user_id=claimed
        )

    genuine = contract_signed(applicant.client_id, f"k-{secrets.token_hex(3)}")
    publish_as(suite, "documents", genuine)
    eventually(lambda: contract_ids(clients, applicant.client_id), timeout=30)
    assert contract_ids(clients, applicant.client_id) == {genuine.payload["contract_id"]}


def test_an_event_whose_body_claims_another_type_than_its_routing_key_is_dead_lettered(
    suite: Suite, clients: Any, dead_letters: DeadLetters
) -> None:
    # intake may publish intake.* keys: a contract.signed inside one reaches whoever
    # listens to that key, but is not believed there.
    applicant = register(clients)
    smuggled = contract_signed(applicant.client_id, "k-smuggled")
    intake = Publisher(suite.amqp_uris["intake"], EXCHANGE)
    try:
        intake.publish_raw(
            smuggled.to_json(),
            exchange=EXCHANGE,
            routing_key="intake.referral.submitted.v1",
            headers={},
            message_id=smuggled.id,
        )
    finally:
        intake.close()

    letter = dead_letters.of(smuggled.id)
    assert letter["x-casework-consumer"] == "clients.register-referred-person"
    assert letter["x-casework-reason"].startswith("publisher-not-owner")
    assert card(clients, applicant.client_id).status == pb.CLIENT_STATUS_APPLICANT


# ------------------------------------------------------------- notifications to a chosen worker


def test_routing_rules_from_a_publisher_that_is_not_intake_are_dead_lettered_and_kept_out(
    suite: Suite, notify_db: Any, dead_letters: DeadLetters
) -> None:
    forged = routing_rules(999_999_999, "w-attacker")

    publish_with_shared_credential(suite, forged)

    letter = dead_letters.of(forged.id)
    assert letter["x-casework-consumer"] == "notify.keep-routing-rules"
    assert notify_db.published_routing_rules.find_one({"rule_set_version": 999_999_999}) is None
    # intake's own next version is still taken: the forgery blocked nothing.
    genuine = routing_rules(1, "w-anna")
    publish_as(suite, "intake", genuine)
    stored = eventually(
        lambda: notify_db.published_routing_rules.find_one({"_id": ORG}), timeout=30
    )
    assert stored["rule_set_version"] == 1
    assert stored["rules"][0]["workers"] == ["w-anna"]


def test_routing_rules_published_by_another_service_are_refused_by_the_broker(
    suite: Suite,
) -> None:
    with pytest.raises(PublishRefused, match="ACCESS_REFUSED"):
        publish_as(suite, "clients", routing_rules(999_999_999, "w-attacker"))


# ------------------------------------------------------------------ merges


def test_a_merge_published_by_another_service_is_refused_and_one_from_no_service_dead_lettered(
    suite: Suite, dead_letters: DeadLetters
) -> None:
    merged = create_event(
        "clients.client.merged",
        {"absorbed_client_id": "c-absorbed", "survivor_client_id": "c-survivor"},
    )

    with pytest.raises(PublishRefused, match="ACCESS_REFUSED"):
        publish_as(suite, "notify", merged)
    publish_with_shared_credential(suite, merged)

    letter = dead_letters.of(merged.id)
    assert letter["x-casework-consumer"] == "clients.repoint-merged-families"
    assert letter["x-casework-reason"].startswith("publisher-unknown")

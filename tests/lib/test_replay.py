"""Replaying parked messages, against a real RabbitMQ vhost, with the suite's broker
users: a replay publishes in the original publisher's name, never in its own."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator

import kombu
import pytest

from casework_common.messaging import (
    PUBLISHER_HEADER,
    Publisher,
    consumer_queue,
    declare_topology,
    publisher_refusal,
)
from casework_common.replay import replay
from casework_dev.testing.fixtures import BrokerUsers


@pytest.fixture()
def exchange(amqp_uri: str) -> Iterator[str]:
    name = f"replay-{secrets.token_hex(4)}.events"
    with kombu.Connection(amqp_uri) as connection:
        declare_topology(connection, name)
    yield name


@pytest.fixture()
def users(broker_users: Callable[[str], BrokerUsers], exchange: str) -> BrokerUsers:
    return broker_users(exchange)


def drain(amqp_uri: str, queue: kombu.Queue | str) -> list[kombu.Message]:
    with kombu.Connection(amqp_uri) as connection:
        channel = connection.channel()
        name = queue if isinstance(queue, str) else queue.name
        messages = []
        while (message := channel.basic_get(queue=name, no_ack=True)) is not None:
            messages.append(message)
        return messages


def declare(amqp_uri: str, queue: kombu.Queue) -> None:
    with kombu.Connection(amqp_uri) as connection:
        queue(connection.default_channel).declare()


def queue_name(service: str) -> str:
    return f"{service}.replay-{secrets.token_hex(3)}"


def run_replay(users: BrokerUsers, exchange: str, source: str, **kwargs: bool) -> object:
    return replay(users.uris["replay"], exchange, source, prefix=users.prefix, **kwargs)


def test_a_refused_event_goes_back_to_the_consumer_that_refused_it_only_in_its_publishers_name(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    refused = consumer_queue(exchange, queue_name("clients"), ["intake.referral.submitted.v1"])
    bystander = consumer_queue(exchange, queue_name("notify"), ["intake.referral.submitted.v1"])
    declare(amqp_uri, refused)
    declare(amqp_uri, bystander)
    clients = Publisher(users.uris["clients"], exchange)
    body = json.dumps({"id": "e-1"}).encode()
    clients.dead_letter(
        body, consumer=refused.name, reason="refused: organisation", publisher=users.user("intake")
    )
    clients.dead_letter(b"\x80", consumer="undecodable.x", reason="undecodable")
    clients.close()

    outcome = run_replay(users, exchange, "dead-letters")

    assert (outcome.replayed, outcome.kept) == (1, 1)  # type: ignore[attr-defined]
    [back] = drain(amqp_uri, refused)
    assert json.loads(back.body) == {"id": "e-1"}
    assert back.headers["x-casework-replayed"] == 1
    assert back.properties["user_id"] == users.user("intake")
    assert PUBLISHER_HEADER not in back.headers
    assert drain(amqp_uri, bystander) == []
    [kept] = drain(amqp_uri, f"{exchange}.dead-letter")
    assert kept.headers["x-casework-consumer"] == "undecodable.x"


def test_a_dead_letter_naming_a_publisher_is_kept_unless_the_queues_own_service_parked_it(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    # intake parks a "refusal" for clients' queue claiming documents published it: were
    # it believed, the replay would make a contract.signed of intake's look like documents'.
    target = consumer_queue(exchange, queue_name("clients"), ["documents.contract.signed.v1"])
    declare(amqp_uri, target)
    intake = Publisher(users.uris["intake"], exchange)
    intake.dead_letter(
        b"{}", consumer=target.name, reason="refused", publisher=users.user("documents")
    )
    intake.close()

    outcome = run_replay(users, exchange, "dead-letters")

    assert (outcome.replayed, outcome.kept) == (0, 1)  # type: ignore[attr-defined]
    assert drain(amqp_uri, target) == []
    assert len(drain(amqp_uri, f"{exchange}.dead-letter")) == 1


def test_a_dry_run_replays_nothing_and_keeps_every_message(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    publisher = Publisher(users.uris["clients"], exchange)
    publisher.dead_letter(b"{}", consumer=queue_name("clients"), reason="refused")
    publisher.close()

    outcome = run_replay(users, exchange, "dead-letters", dry_run=True)

    assert (outcome.replayed, outcome.kept) == (0, 1)  # type: ignore[attr-defined]
    assert len(drain(amqp_uri, f"{exchange}.dead-letter")) == 1


def test_an_event_published_before_its_consumer_existed_is_delivered_by_replay(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    publisher = Publisher(users.uris["intake"], exchange)
    event = {"id": "e-2", "type": "intake.consultation.recorded", "version": 1, "trace": {}}
    publisher.publish_event(event)
    publisher.close()
    late = consumer_queue(exchange, queue_name("clients"), ["intake.consultation.recorded.v1"])
    declare(amqp_uri, late)

    outcome = run_replay(users, exchange, "unrouted")

    assert outcome.replayed == 1  # type: ignore[attr-defined]
    [delivered] = drain(amqp_uri, late)
    assert json.loads(delivered.body)["id"] == "e-2"
    assert delivered.properties["user_id"] == users.user("intake")


def test_a_forged_event_parked_as_unrouted_is_still_forged_after_replay(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    # The unrouted exchange is a fanout: no topic permission guards it, so intake can
    # park a contract.signed there. Replayed, it still carries intake's name.
    target = consumer_queue(exchange, queue_name("clients"), ["documents.contract.signed.v1"])
    declare(amqp_uri, target)
    intake = Publisher(users.uris["intake"], exchange)
    intake.publish_raw(
        b"{}",
        exchange=f"{exchange}.unrouted",
        routing_key="documents.contract.signed.v1",
        headers={},
        message_id="e-3",
    )
    intake.close()

    run_replay(users, exchange, "unrouted")

    [delivered] = drain(amqp_uri, target)
    assert delivered.properties["user_id"] == users.user("intake")
    assert publisher_refusal(
        event_type="documents.contract.signed",
        routing_key="documents.contract.signed.v1",
        user_id=delivered.properties["user_id"],
        delivered_exchange=delivered.delivery_info["exchange"],
        delivered_key=delivered.delivery_info["routing_key"],
        events_exchange=exchange,
        prefix=users.prefix,
    )

"""Replaying parked messages, against a real RabbitMQ vhost."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import kombu
import pytest

from casework_common.messaging import Publisher, consumer_queue, declare_topology
from casework_common.replay import replay


@pytest.fixture()
def exchange(amqp_uri: str) -> Iterator[str]:
    name = f"replay-{secrets.token_hex(4)}.events"
    with kombu.Connection(amqp_uri) as connection:
        declare_topology(connection, name)
    yield name


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


def test_a_refused_event_goes_back_to_the_consumer_that_refused_it_only(
    amqp_uri: str, exchange: str
) -> None:
    refused = consumer_queue(exchange, f"{exchange}.clients", ["intake.referral.submitted.v1"])
    bystander = consumer_queue(exchange, f"{exchange}.notify", ["intake.referral.submitted.v1"])
    declare(amqp_uri, refused)
    declare(amqp_uri, bystander)
    publisher = Publisher(amqp_uri, exchange)
    body = json.dumps({"id": "e-1"}).encode()
    publisher.dead_letter(body, consumer=refused.name, reason="organisation not served yet")
    publisher.dead_letter(b"\x80", consumer="undecodable.x", reason="undecodable")
    publisher.close()

    outcome = replay(amqp_uri, exchange, "dead-letters")

    assert (outcome.replayed, outcome.kept) == (1, 1)
    [back] = drain(amqp_uri, refused)
    assert json.loads(back.body) == {"id": "e-1"}
    assert back.headers["x-casework-replayed"] == 1
    assert drain(amqp_uri, bystander) == []
    [kept] = drain(amqp_uri, f"{exchange}.dead-letter")
    assert kept.headers["x-casework-consumer"] == "undecodable.x"


def test_a_dry_run_replays_nothing_and_keeps_every_message(amqp_uri: str, exchange: str) -> None:
    publisher = Publisher(amqp_uri, exchange)
    publisher.dead_letter(b"{}", consumer=f"{exchange}.clients", reason="refused")
    publisher.close()

    outcome = replay(amqp_uri, exchange, "dead-letters", dry_run=True)

    assert (outcome.replayed, outcome.kept) == (0, 1)
    assert len(drain(amqp_uri, f"{exchange}.dead-letter")) == 1


def test_an_event_published_before_its_consumer_existed_is_delivered_by_replay(
    amqp_uri: str, exchange: str
) -> None:
    publisher = Publisher(amqp_uri, exchange)
    event = {"id": "e-2", "type": "intake.consultation.recorded", "version": 1, "trace": {}}
    publisher.publish_event(event)
    late = consumer_queue(exchange, f"{exchange}.late", ["intake.consultation.recorded.v1"])
    declare(amqp_uri, late)

    outcome = replay(amqp_uri, exchange, "unrouted")
    publisher.close()

    assert outcome.replayed == 1
    [delivered] = drain(amqp_uri, late)
    assert json.loads(delivered.body)["id"] == "e-2"

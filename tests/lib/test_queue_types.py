"""Specification of the queues' type: on a broker that dead-letters at least once
(RabbitMQ 3.10 and later) every consumer queue and retry tier is a quorum queue that
dead-letters at least once, so a delayed retry on its way back to its work queue is kept
until the work queue has it; an older broker, or CASEWORK_QUEUE_TYPE=classic, gets
classic queues. A queue left with other arguments fails the declaration by name."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from kombu import Queue

from casework_common.messaging import (
    CLASSIC,
    QUORUM,
    Publisher,
    QueueMismatch,
    consumer_queue,
    declare_topology,
    queue_type,
    retry_exchange,
    retry_queues,
    retry_tier,
)
from casework_dev.testing.helpers import eventually

DELAYS = (0.2, 0.4)


def test_a_broker_of_3_10_or_later_gets_quorum_queues_and_an_older_one_classic() -> None:
    assert queue_type("3.10.8", {}) == QUORUM
    assert queue_type("3.13.1", {}) == QUORUM
    assert queue_type("4.0.2", {}) == QUORUM
    assert queue_type("3.9.29", {}) == CLASSIC
    assert queue_type("3.8.0", {}) == CLASSIC
    assert queue_type(None, {}) == CLASSIC


def test_the_setting_overrides_what_the_broker_reports() -> None:
    assert queue_type("3.10.8", {"CASEWORK_QUEUE_TYPE": "classic"}) == CLASSIC
    assert queue_type("3.9.0", {"CASEWORK_QUEUE_TYPE": "Quorum"}) == QUORUM
    with pytest.raises(ValueError, match="CASEWORK_QUEUE_TYPE"):
        queue_type("3.10.8", {"CASEWORK_QUEUE_TYPE": "stream"})


def test_quorum_queues_dead_letter_at_least_once_with_a_delivery_limit() -> None:
    work = consumer_queue("casework.events", "clients.register-referred-person", [], QUORUM)
    tier = retry_queues("clients.register-referred-person", (1.0,), QUORUM)[0]

    for queue in (work, tier):
        arguments = queue.queue_arguments
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-dead-letter-strategy"] == "at-least-once"
        # At-least-once dead-lettering is refused by the broker under any other overflow.
        assert arguments["x-overflow"] == "reject-publish"
        assert arguments["x-delivery-limit"] > 0
    assert tier.queue_arguments["x-message-ttl"] == 1000
    # Back through the service's own retry exchange, under the key it came in with.
    assert tier.queue_arguments["x-dead-letter-exchange"] == "clients.retry"
    assert "x-dead-letter-routing-key" not in tier.queue_arguments


def test_classic_queues_carry_no_quorum_arguments() -> None:
    work = consumer_queue("casework.events", "clients.register-referred-person", [], CLASSIC)
    tier = retry_queues("clients.register-referred-person", (1.0,), CLASSIC)[0]

    assert work.queue_arguments == {
        "x-dead-letter-exchange": "casework.events.dead-letter",
        "x-dead-letter-routing-key": "clients.register-referred-person",
    }
    assert set(tier.queue_arguments) == {"x-message-ttl", "x-dead-letter-exchange"}


@pytest.fixture()
def events(amqp_uri: str) -> Iterator[dict[str, Any]]:
    exchange = f"casework.types-{secrets.token_hex(4)}"
    publisher = Publisher(amqp_uri, exchange)
    publisher.connect()
    # A service name of the test's own: each service has one set of retry tiers.
    name = f"t{secrets.token_hex(4)}.types"
    yield {"exchange": exchange, "publisher": publisher, "queue": name}
    publisher.close()


def arguments_refused(amqp_uri: str, queue: Queue) -> bool:
    """Whether the broker refuses to redeclare `queue` with these arguments."""
    with kombu.Connection(amqp_uri) as connection, connection.channel() as channel:
        try:
            queue(channel).declare()
        except Exception:
            return True
    return False


@pytest.mark.parametrize("kind", [QUORUM, CLASSIC])
def test_a_retry_parked_in_a_tier_comes_back_to_the_work_queue_after_its_delay(
    amqp_uri: str, events: dict[str, Any], kind: str
) -> None:
    publisher: Publisher = events["publisher"]
    name = events["queue"]
    work = consumer_queue(events["exchange"], name, ["intake.#"])

    assert publisher.declare_queues([work], DELAYS, kind) == kind
    publisher.retry_later(
        b'{"parked":1}', queue_name=name, delay=DELAYS[1], headers={"n": 1}, message_id="e-1"
    )

    with kombu.Connection(amqp_uri) as connection, connection.channel() as channel:
        message = eventually(lambda: channel.basic_get(queue=name, no_ack=True))
    assert message.body in (b'{"parked":1}', '{"parked":1}')
    assert message.delivery_info["exchange"] == retry_exchange(name).name
    # What the broker holds is what was asked for: the other type is refused.
    other = CLASSIC if kind == QUORUM else QUORUM
    assert arguments_refused(amqp_uri, consumer_queue(events["exchange"], name, [], other))
    assert arguments_refused(amqp_uri, retry_queues(name, DELAYS, other)[0])


def test_the_broker_holds_the_tiers_as_at_least_once_dead_letterers(
    amqp_uri: str, events: dict[str, Any]
) -> None:
    publisher: Publisher = events["publisher"]
    name = events["queue"]
    publisher.declare_queues([consumer_queue(events["exchange"], name, [])], DELAYS, QUORUM)
    tier = retry_queues(name, DELAYS, QUORUM)[0]
    at_most_once = Queue(
        tier.name,
        durable=True,
        queue_arguments={
            k: v for k, v in tier.queue_arguments.items() if k != "x-dead-letter-strategy"
        },
    )

    assert not arguments_refused(amqp_uri, tier)
    assert arguments_refused(amqp_uri, at_most_once)


def test_a_queue_left_as_another_type_fails_the_declaration_naming_it_and_what_to_do(
    amqp_uri: str, events: dict[str, Any]
) -> None:
    publisher: Publisher = events["publisher"]
    name = events["queue"]
    with kombu.Connection(amqp_uri) as connection:
        declare_topology(connection, events["exchange"])
        for queue in retry_queues(name, DELAYS, CLASSIC):
            queue(connection.default_channel).declare()

    with pytest.raises(QueueMismatch) as refused:
        publisher.declare_queues([consumer_queue(events["exchange"], name, [])], DELAYS, QUORUM)

    message = str(refused.value)
    assert repr(retry_tier(name, DELAYS[0])) in message
    assert "delete_queue" in message and "CASEWORK_QUEUE_TYPE" in message
    # The publisher is still usable after the refused declaration closed its channel.
    publisher.retry_later(b"{}", queue_name=name, delay=DELAYS[0], headers={}, message_id=None)


def test_a_retry_in_its_services_shared_tier_goes_back_to_its_own_queue_only(
    amqp_uri: str, events: dict[str, Any]
) -> None:
    publisher: Publisher = events["publisher"]
    first, second = f"{events['queue']}-first", f"{events['queue']}-second"
    publisher.declare_queues(
        [consumer_queue(events["exchange"], name, []) for name in (first, second)], DELAYS
    )
    assert retry_tier(first, DELAYS[0]) == retry_tier(second, DELAYS[0])

    # In this order through the same tier: the first is back before the second.
    for name in (first, second):
        publisher.retry_later(
            name.encode(), queue_name=name, delay=DELAYS[0], headers={}, message_id=None
        )

    with kombu.Connection(amqp_uri) as connection, connection.channel() as channel:
        eventually(lambda: channel.queue_declare(second, passive=True).message_count)
        counts = [channel.queue_declare(n, passive=True).message_count for n in (first, second)]
        bodies = [channel.basic_get(queue=n, no_ack=True).body for n in (first, second)]
    assert counts == [1, 1]
    assert [b if isinstance(b, bytes) else b.encode() for b in bodies] == [
        first.encode(),
        second.encode(),
    ]

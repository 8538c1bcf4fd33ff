"""Specification of the broker connection of a cluster: AMQP_URI may list several nodes,
`;`-separated (the large overlay lists every node of its RabbitMQ cluster); a node that
does not answer is passed over for the next. And every consumer queue is a quorum queue
with a delivery limit and a dead-letter exchange, which a cluster keeps on a majority."""

from __future__ import annotations

import secrets

import kombu

from casework_common.messaging import DELIVERY_LIMIT, Publisher, consumer_queue
from casework_dev.devstack import free_port


def test_a_publisher_given_several_nodes_fails_over_to_one_that_answers(amqp_uri: str) -> None:
    # A port nothing listens on: the first node of the list is down.
    scheme, _, rest = amqp_uri.partition("://")
    credentials, _, location = rest.partition("@")
    vhost = location.partition("/")[2]
    down_node = f"{scheme}://{credentials}@127.0.0.1:{free_port()}/{vhost}"
    exchange = f"test.hosts.{secrets.token_hex(4)}"
    publisher = Publisher(f"{down_node};{amqp_uri}", exchange)
    publisher.connect()  # declares the exchanges on the node that answered
    with kombu.Connection(amqp_uri) as connection:
        queue = consumer_queue(exchange, f"{exchange}.listener", ["intake.#"])
        simple = connection.SimpleQueue(queue)

        publisher.publish_raw(
            b'{"n":1}', exchange=exchange, routing_key="intake.x.v1", headers={}, message_id="m1"
        )

        message = simple.get(timeout=10)
        message.ack()
        assert message.body in (b'{"n":1}', '{"n":1}')
        simple.close()
        queue(connection.default_channel).delete()
    publisher.close()


def test_consumer_queues_are_quorum_queues_with_a_delivery_limit_and_dead_letters() -> None:
    queue = consumer_queue("casework.events", "clients.register-referred-person", ["intake.#"])

    assert queue.queue_arguments == {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "casework.events.dead-letter",
        "x-dead-letter-routing-key": "clients.register-referred-person",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert queue.durable

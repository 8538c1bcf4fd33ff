"""What the broker itself refuses to each service's own user, against a real RabbitMQ
vhost: the permissions `make run` and the test suites give, measured, not assumed."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import kombu
import pytest
from amqp.exceptions import AccessRefused

from casework_common.messaging import Publisher, PublishRefused, consumer_queue, declare_topology
from casework_dev.devstack import administrable_vhost, broker_grant, broker_uris, vhost_of
from casework_dev.testing.fixtures import BrokerUsers


@pytest.fixture()
def exchange(amqp_uri: str) -> str:
    name = f"users-{secrets.token_hex(4)}.events"
    with kombu.Connection(amqp_uri) as connection:
        declare_topology(connection, name)
    return name


@pytest.fixture()
def users(broker_users: Callable[[str], BrokerUsers], exchange: str) -> BrokerUsers:
    return broker_users(exchange)


def listen(amqp_uri: str, exchange: str, routing_key: str) -> kombu.Queue:
    queue = consumer_queue(exchange, f"clients.listen-{secrets.token_hex(3)}", [routing_key])
    with kombu.Connection(amqp_uri) as connection:
        queue(connection.default_channel).declare()
    return queue


def take(amqp_uri: str, queue: kombu.Queue) -> list[kombu.Message]:
    with kombu.Connection(amqp_uri) as connection:
        channel = connection.channel()
        messages = []
        while (message := channel.basic_get(queue=queue.name, no_ack=True)) is not None:
            messages.append(message)
        return messages


def event(event_type: str) -> dict[str, object]:
    return {"id": secrets.token_hex(4), "type": event_type, "version": 1, "trace": {}}


def test_a_service_may_not_publish_another_services_events_and_its_next_publish_goes_out(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    signed = listen(amqp_uri, exchange, "documents.contract.signed.v1")
    submitted = listen(amqp_uri, exchange, "intake.referral.submitted.v1")
    intake = Publisher(users.uris["intake"], exchange)

    with pytest.raises(PublishRefused, match="ACCESS_REFUSED"):
        intake.publish_event(event("documents.contract.signed"))
    intake.publish_event(event("intake.referral.submitted"))
    intake.close()

    assert take(amqp_uri, signed) == []
    [own] = take(amqp_uri, submitted)
    assert own.properties["user_id"] == users.user("intake")


def test_a_message_claiming_another_user_is_refused_by_the_broker(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    submitted = listen(amqp_uri, exchange, "intake.referral.submitted.v1")
    intake = Publisher(users.uris["intake"], exchange)

    with pytest.raises(PublishRefused, match="PRECONDITION_FAILED"):
        intake.publish_raw(
            b"{}",
            exchange=exchange,
            routing_key="intake.referral.submitted.v1",
            headers={},
            message_id=None,
            user_id=users.user("documents"),
        )
    intake.close()

    assert take(amqp_uri, submitted) == []


def test_a_service_may_not_drop_messages_straight_into_another_services_queue(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    queue = listen(amqp_uri, exchange, "documents.contract.signed.v1")
    intake = Publisher(users.uris["intake"], exchange)

    with pytest.raises(PublishRefused, match=r"amq\.default"):
        intake.publish_raw(b"{}", exchange="", routing_key=queue.name, headers={}, message_id=None)
    intake.close()

    assert take(amqp_uri, queue) == []


def test_a_service_declares_and_binds_its_own_queues_only(
    exchange: str, users: BrokerUsers
) -> None:
    with kombu.Connection(users.uris["clients"]) as connection:
        # A queue name of this test's own: the session's vhost may already hold
        # clients' real queues, declared with another dead-letter exchange.
        own = consumer_queue(
            exchange, f"clients.apply-contract-{secrets.token_hex(4)}",
            ["documents.contract.signed.v1"],
        )  # fmt: skip
        own(connection.default_channel).declare()
        theirs = consumer_queue(exchange, "notify.keep-routing-rules", ["intake.#"])
        with pytest.raises(AccessRefused):
            theirs(connection.channel()).declare()


def test_the_replay_user_may_publish_in_the_name_of_the_events_original_publisher(
    amqp_uri: str, exchange: str, users: BrokerUsers
) -> None:
    signed = listen(amqp_uri, exchange, "documents.contract.signed.v1")
    operator = Publisher(users.uris["replay"], exchange)

    operator.publish_raw(
        b"{}",
        exchange=exchange,
        routing_key="documents.contract.signed.v1",
        headers={},
        message_id=None,
        user_id=users.user("documents"),
    )
    operator.close()

    [replayed] = take(amqp_uri, signed)
    assert replayed.properties["user_id"] == users.user("documents")


# ------------------------------------------------------------------ the grants and URIs


def test_a_services_grant_names_its_own_queues_and_the_shared_exchanges_only() -> None:
    grant = broker_grant("clients", "casework.events")
    for permission in (grant.configure, grant.write, grant.read):
        for name in (
            "clients.apply-contract",
            "casework.events",
            "casework.events.unrouted",
            "casework.events.dead-letter",
        ):
            assert re.fullmatch(permission, name), name
        for name in ("notify.keep-routing-rules", "casework-events", "amq.default", "clients"):
            assert not re.fullmatch(permission, name), name
    assert re.match(grant.topic_write, "clients.client.merged.v1")
    assert not re.match(grant.topic_write, "documents.contract.signed.v1")
    assert not re.match(grant.topic_write, "clientsx.client.merged.v1")


def test_each_roles_uri_keeps_the_broker_and_vhost_with_its_own_user() -> None:
    uris = broker_uris(
        "amqp://guest:guest@127.0.0.1:5672/casework-test-1", "t-", {"intake": "a/b+c@d"}
    )
    connection = kombu.Connection(uris["intake"])
    assert (connection.userid, connection.password) == ("t-intake", "a/b+c@d")
    assert (connection.hostname, connection.port) == ("127.0.0.1", 5672)
    assert connection.virtual_host == "casework-test-1"
    default_vhost = broker_uris("amqp://guest:guest@localhost//", "t-", {"notify": "x"})
    assert vhost_of(default_vhost["notify"]) == "/"


def test_users_are_never_made_by_the_local_rabbitmqctl_for_a_broker_elsewhere() -> None:
    with pytest.raises(RuntimeError, match="AMQP_URI_<SERVICE>"):
        administrable_vhost("amqp://u:p@rabbitmq.example.org:5672/casework")
    assert administrable_vhost("amqp://u:p@127.0.0.1:5672/casework") == "casework"

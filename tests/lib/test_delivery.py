"""Delivery guarantees of the events runtime and the outbox relay, against a real
RabbitMQ vhost and a real MongoDB-wire server: a handler runs once per event however
the event arrives, a transient fault is retried later through the broker, and the
writer's immediate publish and the sweeper never both publish one outbox."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import kombu
import mongoengine as me
import pytest
from opentelemetry import trace
from pymongo.errors import AutoReconnect

from casework_common import events_runtime, storage
from casework_common.envelope import Actor, EventEnvelope
from casework_common.messaging import (
    ATTEMPT_HEADER,
    Publisher,
    consumer_queue,
    declare_topology,
    retry_exchange,
    retry_tier,
)
from casework_common.outbox import OutboxRelay
from casework_common.storage import AggregateDocument, Claim, save_aggregate, track_writes
from casework_common.telemetry import EVENTS_REPUBLISHED
from casework_dev.testing.helpers import eventually

pytestmark = pytest.mark.usefixtures("mongo_db")

CONSUMER = "clients.delivery-test"
DELAYS = (0.2, 0.4)


class ParcelDocument(AggregateDocument):
    """An aggregate of the tests' own, only to carry an outbox."""

    meta = {"collection": "test_parcels"}

    id = me.StringField(primary_key=True)


def create_envelope(**overrides: Any) -> EventEnvelope:
    fields: dict[str, Any] = {
        "type": "intake.referral.submitted",
        "version": 1,
        "organisation": "org-demo",
        "actor": Actor.system("intake"),
        "payload": {"referral_id": f"ref-{secrets.token_hex(4)}"},
    }
    fields.update(overrides)
    return EventEnvelope(**fields)


@pytest.fixture()
def broker(amqp_uri: str) -> Iterator[dict[str, Any]]:
    """An events exchange of the test's own with the consumer's queue and retry tiers."""
    exchange = f"casework.delivery-{secrets.token_hex(4)}"
    # A service name of the test's own: each service has one set of retry tiers.
    queue_name = f"t{secrets.token_hex(4)}.delivery-test"
    publisher = Publisher(amqp_uri, exchange)
    publisher.connect()
    with kombu.Connection(amqp_uri) as connection:
        declare_topology(connection, exchange)
    publisher.declare_queues([consumer_queue(exchange, queue_name, ["intake.#"])], DELAYS)
    yield {"exchange": exchange, "queue": queue_name, "publisher": publisher}
    publisher.close()


def bus_for(publisher: Publisher) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(
        settings=SimpleNamespace(service="clients"),
        publisher=publisher,
        tracer=trace.get_tracer("test"),
        relay=SimpleNamespace(publish_written=lambda written: 0),
        broker_user_prefix="casework-",
        retry_delays=DELAYS,
    )


def take(amqp_uri: str, queue: str) -> Any:
    """The next message of `queue`, waiting for it (a delayed retry comes back late)."""
    with kombu.Connection(amqp_uri) as connection:
        channel = connection.channel()
        return eventually(lambda: channel.basic_get(queue=queue, no_ack=True))


def delivered_from(message: Any) -> events_runtime.Origin:
    return events_runtime.Origin(
        user_id=message.properties.get("user_id"),
        exchange=message.delivery_info.get("exchange") or "",
        routing_key=message.delivery_info.get("routing_key") or "",
        headers=dict(message.headers or {}),
    )


def test_a_second_delivery_while_the_first_is_handled_runs_no_handler_and_finds_it_done_later(
    amqp_uri: str, broker: dict[str, Any]
) -> None:
    envelope = create_envelope()
    body = json.dumps(envelope.to_dict())
    origin = events_runtime.Origin("casework-intake", broker["exchange"], envelope.routing_key)
    bus = bus_for(broker["publisher"])
    runs: list[str] = []
    inside, finish = threading.Event(), threading.Event()

    def slow_handler(event: EventEnvelope) -> None:
        runs.append(event.id)
        inside.set()
        assert finish.wait(10)

    first = threading.Thread(
        target=events_runtime._handle,
        args=(bus, broker["queue"], body, slow_handler, origin),
    )
    first.start()
    try:
        assert inside.wait(10)
        # The same event, delivered again while the first handler is still running.
        events_runtime._handle(bus, broker["queue"], body, slow_handler, origin)
    finally:
        finish.set()
        first.join(10)

    assert runs == [envelope.id]
    # The second delivery waited in a retry tier; back in the queue it is a duplicate.
    retried = take(amqp_uri, broker["queue"])
    assert retried.headers[ATTEMPT_HEADER] == 1
    events_runtime._handle(
        bus, broker["queue"], retried.body, slow_handler, delivered_from(retried)
    )
    assert runs == [envelope.id]
    assert storage.already_processed(broker["queue"], envelope.id)


def test_of_many_concurrent_claims_of_one_event_exactly_one_is_taken() -> None:
    envelope = create_envelope()
    barrier = threading.Barrier(8)
    answers: list[Claim] = []

    def claim(holder: str) -> None:
        barrier.wait()
        answers.append(storage.claim_event(CONSUMER, envelope, holder, lease=60))

    threads = [threading.Thread(target=claim, args=(f"h{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(a.value for a in answers) == ["busy"] * 7 + ["taken"]


def test_a_claim_whose_handler_crashed_is_taken_over_after_its_lease() -> None:
    envelope = create_envelope()
    assert storage.claim_event(CONSUMER, envelope, "crashed", lease=0.05) is Claim.TAKEN
    assert storage.claim_event(CONSUMER, envelope, "next", lease=60) is not Claim.DONE

    def taken() -> bool:
        return storage.claim_event(CONSUMER, envelope, "next", lease=60) is Claim.TAKEN

    eventually(taken)
    assert storage.complete_event(CONSUMER, envelope.id, "next")
    assert storage.claim_event(CONSUMER, envelope, "late", lease=60) is Claim.DONE


def test_claims_written_together_are_each_decided_alone() -> None:
    first, second = create_envelope(), create_envelope()
    assert storage.claim_event(CONSUMER, first, "earlier", lease=60) is Claim.TAKEN

    answers = storage.claim_events(
        [
            storage.EventClaim(CONSUMER, first, "h1", 60),  # held by another delivery
            storage.EventClaim(CONSUMER, second, "h2", 60),
            storage.EventClaim(CONSUMER, second, "h3", 60),  # the same event, twice at once
            storage.EventClaim(CONSUMER, first, "earlier", 60),  # its holder, back again
        ]
    )

    assert answers == [Claim.BUSY, Claim.TAKEN, Claim.BUSY, Claim.TAKEN]


def test_done_marks_written_together_mark_only_the_claims_their_holders_hold() -> None:
    first, second = create_envelope(), create_envelope()
    storage.claim_event(CONSUMER, first, "h1", lease=60)
    storage.claim_event(CONSUMER, second, "h2", lease=60)

    marked = storage.complete_events(
        [(CONSUMER, first.id, "h1"), (CONSUMER, second.id, "someone-else")]
    )

    assert marked == [True, False]
    assert storage.already_processed(CONSUMER, first.id)
    assert not storage.already_processed(CONSUMER, second.id)
    assert storage.complete_events([(CONSUMER, second.id, "h2")]) == [True]


def test_a_transient_fault_parks_the_event_in_a_delayed_retry_that_comes_back_and_is_handled(
    amqp_uri: str, broker: dict[str, Any]
) -> None:
    envelope = create_envelope()
    origin = events_runtime.Origin("casework-intake", broker["exchange"], envelope.routing_key)
    bus = bus_for(broker["publisher"])
    runs: list[int] = []

    def flaky_handler(event: EventEnvelope) -> None:
        runs.append(1)
        if len(runs) <= 3:
            raise AutoReconnect("database unreachable")

    events_runtime._handle(
        bus, broker["queue"], json.dumps(envelope.to_dict()), flaky_handler, origin
    )
    attempts = []
    while not storage.already_processed(broker["queue"], envelope.id):
        message = take(amqp_uri, broker["queue"])
        attempts.append(message.headers[ATTEMPT_HEADER])
        # As the broker delivers it back: through its service's own retry exchange.
        assert message.delivery_info["exchange"] == retry_exchange(broker["queue"]).name
        events_runtime._handle(
            bus, broker["queue"], message.body, flaky_handler, delivered_from(message)
        )

    assert attempts == [1, 2, 3]
    assert len(runs) == 4
    # The publisher the broker named first is the one believed on the retries.
    with kombu.Connection(amqp_uri) as connection:
        dead = connection.default_channel.queue_declare(
            f"{broker['exchange']}.dead-letter", passive=True
        )
    assert dead.message_count == 0


def test_the_retry_tiers_grow_and_the_last_repeats(broker: dict[str, Any]) -> None:
    assert retry_tier(broker["queue"], 0.2) == f"{broker['queue'].split('.')[0]}.retry.0.2s"
    bus = bus_for(broker["publisher"])
    envelope = create_envelope()
    sent: list[float] = []
    bus.publisher = type(
        "Recorder",
        (),
        {"retry_later": lambda self, body, **kw: sent.append(kw["delay"]), "user_id": ""},
    )()
    for attempt in range(4):
        origin = events_runtime.Origin(
            "casework-intake", broker["exchange"], envelope.routing_key, {ATTEMPT_HEADER: attempt}
        )
        events_runtime._retry_later(
            bus, broker["queue"], b"{}", origin, holder="h", event_id=envelope.id, why="test"
        )
    assert sent == [0.2, 0.4, 0.4, 0.4]


def race(barrier: threading.Barrier, publish: Any, *args: Any) -> None:
    barrier.wait()
    publish(*args)


@pytest.mark.parametrize("lagging", [False, True], ids=["fresh", "writer-lagging"])
def test_the_writer_and_the_sweeper_racing_publish_each_outbox_once(
    amqp_uri: str, broker: dict[str, Any], lagging: bool
) -> None:
    relay = OutboxRelay("clients", [ParcelDocument], broker["publisher"])
    sweeper = OutboxRelay("clients", [ParcelDocument], Publisher(amqp_uri, broker["exchange"]))
    before = EVENTS_REPUBLISHED.labels("clients")._value.get()
    published_ids: list[str] = []
    for _ in range(20):
        with track_writes() as written:
            envelope = create_envelope()
            # A writer that lags: its outbox is already old enough for the sweeper.
            since = datetime(2020, 1, 1, tzinfo=UTC) if lagging else None
            save_aggregate(
                ParcelDocument(
                    id=secrets.token_hex(6), organisation="org-demo", outbox_since=since
                ),
                [envelope],
            )
        published_ids.append(envelope.id)
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=race, args=(barrier, relay.publish_written, written)),
            threading.Thread(
                target=race, args=(barrier, sweeper.run_once, 1.0 if lagging else 0.0)
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    seen: list[str] = []
    with kombu.Connection(amqp_uri) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue=broker["queue"], no_ack=True)) is not None:
            seen.append(json.loads(message.body)["id"])
    assert sorted(seen) == sorted(published_ids)
    assert EVENTS_REPUBLISHED.labels("clients")._value.get() == before
    assert ParcelDocument.objects(outbox_pending=True).count() == 0

"""A writer whose writes are tracked claims its outbox in the write that stores it: its
immediate publish then reads nothing and claims nothing (one write, the clear), while
the sweeper still takes over what a writer never published. Real broker and database."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import kombu
import mongoengine as me
import pytest

from casework_common import storage
from casework_common.envelope import Actor, EventEnvelope
from casework_common.messaging import Publisher, consumer_queue, declare_topology
from casework_common.outbox import OutboxRelay
from casework_common.storage import AggregateDocument, save_aggregate, track_writes
from casework_dev.testing.helpers import eventually

pytestmark = pytest.mark.usefixtures("mongo_db")


class CrateDocument(AggregateDocument):
    """An aggregate of the tests' own, only to carry an outbox."""

    meta = {"collection": "test_crates"}

    id = me.StringField(primary_key=True)


def create_envelope() -> EventEnvelope:
    return EventEnvelope(
        type="intake.referral.submitted",
        version=1,
        organisation="org-demo",
        actor=Actor.system("intake"),
        payload={"referral_id": f"ref-{secrets.token_hex(4)}"},
    )


def create_crate() -> CrateDocument:
    return CrateDocument(id=secrets.token_hex(6), organisation="org-demo")


@pytest.fixture()
def relay(amqp_uri: str) -> Iterator[dict[str, Any]]:
    exchange = f"casework.claims-{secrets.token_hex(4)}"
    queue = f"clients.claims-{secrets.token_hex(3)}"
    publisher = Publisher(amqp_uri, exchange)
    publisher.connect()
    with kombu.Connection(amqp_uri) as connection:
        declare_topology(connection, exchange)
        consumer_queue(exchange, queue, ["intake.#"])(connection.default_channel).declare()
    yield {"relay": OutboxRelay("clients", [CrateDocument], publisher), "queue": queue}
    publisher.close()


def published_ids(amqp_uri: str, queue: str) -> list[str]:
    seen = []
    with kombu.Connection(amqp_uri) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue=queue, no_ack=True)) is not None:
            seen.append(json.loads(message.body)["id"])
    return seen


class CountingCollection:
    """The documents' collection, counting the reads and writes the relay asks of it."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name in ("find", "find_one", "update_one", "replace_one", "insert_one", "bulk_write"):
            self.calls.append(name)
        return getattr(self._collection, name)


def test_a_tracked_writers_outbox_is_claimed_in_its_own_write_and_published_with_one_clear(
    amqp_uri: str, relay: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = create_envelope()
    with track_writes() as written:
        crate = create_crate()
        save_aggregate(crate, [envelope])
    stored = CrateDocument._get_collection().find_one({"_id": crate.id})
    assert stored["outbox_claimed"] == [envelope.id] and stored["outbox_claimed_ms"]

    counting = CountingCollection(CrateDocument._get_collection())
    monkeypatch.setattr(CrateDocument, "_get_collection", classmethod(lambda cls: counting))
    assert relay["relay"].publish_written(written) == 1

    assert counting.calls == ["bulk_write"]  # the clear, one command
    assert published_ids(amqp_uri, relay["queue"]) == [envelope.id]
    assert CrateDocument.objects(outbox_pending=True).count() == 0


def test_a_second_publish_of_the_same_unit_reads_nothing_and_publishes_nothing(
    amqp_uri: str, relay: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with track_writes() as written:
        save_aggregate(create_crate(), [create_envelope()])
    relay["relay"].publish_written(written)

    counting = CountingCollection(CrateDocument._get_collection())
    monkeypatch.setattr(CrateDocument, "_get_collection", classmethod(lambda cls: counting))
    assert relay["relay"].publish_written(written) == 0
    assert counting.calls == []


def test_two_saves_of_one_aggregate_in_one_unit_publish_both_events_once(
    amqp_uri: str, relay: dict[str, Any]
) -> None:
    first, second = create_envelope(), create_envelope()
    with track_writes() as written:
        crate = create_crate()
        save_aggregate(crate, [first])
        save_aggregate(crate, [second])

    relay["relay"].publish_written(written)

    assert sorted(published_ids(amqp_uri, relay["queue"])) == sorted([first.id, second.id])
    assert CrateDocument.objects(outbox_pending=True).count() == 0


def test_a_save_never_takes_over_a_live_claim_of_another_publisher(
    amqp_uri: str, relay: dict[str, Any]
) -> None:
    first, second = create_envelope(), create_envelope()
    crate = create_crate()
    save_aggregate(crate, [first])  # untracked: nobody claimed it
    # Another publisher (a sweeper elsewhere) holds a live claim on the first event.
    CrateDocument._get_collection().update_one(
        {"_id": crate.id},
        {"$set": {"outbox_claimed": [first.id], "outbox_claimed_ms": 4102444800000}},
    )
    with track_writes() as written:
        save_aggregate(crate, [second])
    stored = CrateDocument._get_collection().find_one({"_id": crate.id})
    assert stored["outbox_claimed"] == [first.id]

    # Its own publish finds the outbox claimed by the other and leaves it to them.
    assert relay["relay"].publish_written(written) == 0
    assert published_ids(amqp_uri, relay["queue"]) == []


def test_a_claimed_outbox_its_writer_never_published_is_swept_after_the_lease(
    amqp_uri: str, relay: dict[str, Any]
) -> None:
    envelope = create_envelope()
    with track_writes():
        save_aggregate(create_crate(), [envelope])  # the writer crashed before publishing
    sweeper = OutboxRelay("clients", [CrateDocument], relay["relay"]._publisher, lease=0.2)

    eventually(lambda: sweeper.run_once(min_age=0.2))

    assert published_ids(amqp_uri, relay["queue"]) == [envelope.id]


def test_a_completed_event_is_marked_done_with_when_in_one_write() -> None:
    envelope = create_envelope()
    assert storage.claim_event("clients.claims", envelope, "h1", lease=60) is storage.Claim.TAKEN

    assert storage.complete_event("clients.claims", envelope.id, "h1")

    record = storage.ProcessedEvent.objects.get(id=f"clients.claims:{envelope.id}")
    assert record.state == "done" and record.done_ms > 0 and record.processed_at is not None
    assert storage.already_processed("clients.claims", envelope.id)
    assert not storage.complete_event("clients.claims", envelope.id, "someone-else")

"""Consumer throughput for `make bench`: how many events per second notify's events
process handles, beside how many a bare kombu consumer drains from the same broker.

Both drain a backlog, so the publisher's speed is out of the figure: the events are
queued while notify's events process is stopped, the process is started, and the rate
is read from when its de-duplication records were marked done (first to last), so the
process's start-up is out of it too. The events are built by the producer's own
contract code and published as clients' broker user, as clients would.

`notify_drain(..., per_event=True)` runs notify with its wiring (bootstrap, repositories,
organisation file) built for every event, as before the dependency provider built it
once per process (`CASEWORK_WIRING_PER_EVENT`): the two rates side by side are the
provider's gain.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import kombu
import pymongo

from casework.clients.v1 import events_pb2 as clients_events
from casework_common import contracts
from casework_common.envelope import Actor
from casework_common.messaging import Publisher
from casework_dev.devstack import Suite

CONSUMER = "notify.tell-responsible-workers"


@dataclass(frozen=True)
class Throughput:
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def raw_drain(amqp_uri: str, count: int) -> Throughput:
    """Queue `count` persistent messages (confirmed), then consume and ack them one by
    one."""
    exchange = kombu.Exchange("bench.drain", type="topic", durable=True)
    queue = kombu.Queue("bench.raw.drain", exchange=exchange, routing_key="bench.#", durable=True)
    with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        producer = kombu.Producer(connection.default_channel)
        for i in range(count):
            producer.publish(
                b'{"n":%d}' % i,
                exchange=exchange,
                routing_key="bench.drain",
                declare=[queue],
                delivery_mode=2,
                content_type="application/json",
            )
        simple = connection.SimpleQueue(queue)
        started = time.perf_counter()
        for _ in range(count):
            simple.get(timeout=10).ack()
        seconds = time.perf_counter() - started
        simple.close()
    return Throughput(count, seconds)


def client_registered(i: int, run: str, organisation: str, centre: str) -> dict[str, Any]:
    message = clients_events.ClientRegistered(
        client_id=f"bench-{run}-{i:06d}",
        referral_id=f"bench-referral-{run}-{i:06d}",
        display_name=f"Bench Person {i}",
        region_id="reg-north",
        centre_id=centre,
        client_type="senior",
        problem_type="housing",
        status="active",
    )
    return contracts.envelope(
        message, organisation=organisation, actor=Actor.system("clients"), trace={}
    ).to_dict()


def notify_drain(
    suite: Suite,
    mongo_uri: str,
    count: int,
    *,
    database: str = "bench_notify",
    organisation: str = "org-demo",
    centre: str = "ctr-north-town",
    per_event: bool = False,
) -> Throughput:
    """Queue `count` clients.client.registered events for a stopped notify events
    process, start it, and time its handling of the backlog."""
    suite.stop("notify", "events")
    run = uuid.uuid4().hex[:6]
    exchange = suite.env.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events"
    publisher = Publisher(suite.amqp_uris["clients"], exchange)
    for i in range(count):
        publisher.publish_event(client_registered(i, run, organisation, centre))
    publisher.close()
    processed: Any = pymongo.MongoClient(mongo_uri)[database]["processed_events"]
    ours = {"consumer": CONSUMER, "state": "done"}
    before = processed.count_documents(ours)
    suite.start("notify", "events", {"CASEWORK_WIRING_PER_EVENT": "1" if per_event else ""})
    suite.wait_ready("notify", "events")
    # Look once a second: the development server counts by scanning, and a tight poll
    # would take the database away from the consumer being measured.
    deadline = time.monotonic() + max(60.0, count / 5)
    while processed.count_documents(ours) < before + count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"notify handling {count} events not done")
        time.sleep(1.0)
    times = sorted(
        int(doc["done_ms"])
        for doc in processed.find(ours, {"done_ms": 1}).sort("done_ms", -1).limit(count)
    )
    suite.stop("notify", "events")
    suite.start("notify", "events")  # as it was: wiring built once
    suite.wait_ready("notify", "events")
    return Throughput(count - 1, (times[-1] - times[0]) / 1000)

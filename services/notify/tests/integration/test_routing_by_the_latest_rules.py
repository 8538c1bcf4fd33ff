"""notify's events process routes every new client by the routing rules intake published
last, through the real broker and database: once a newer version is stored, the next
client event goes by it, though the process had the older set in memory."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from casework.clients.v1 import events_pb2 as clients_events
from casework.intake.v1 import events_pb2 as intake_events
from casework_common import contracts
from casework_common.envelope import Actor
from casework_common.messaging import Publisher
from casework_dev.devstack import Suite
from casework_dev.testing.helpers import eventually

ORGANISATION = "org-demo"


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    yield suite_factory(("notify",))


@pytest.fixture(scope="module")
def database(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client[f"{suite.env['MONGO_DB_PREFIX']}_notify"]
    client.close()


def publish(suite: Suite, producer: str, message: Any) -> None:
    """As the producer's own broker user, built by its contract code."""
    envelope = contracts.envelope(
        message, organisation=ORGANISATION, actor=Actor.system(producer), trace={}
    )
    exchange = suite.env.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events"
    publisher = Publisher(suite.amqp_uris[producer], exchange)
    try:
        publisher.publish_event(envelope.to_dict())
    finally:
        publisher.close()


def publish_rules(suite: Suite, database: Any, version: int, worker: str) -> None:
    """Every North Town referral to `worker`; returns once notify stored the version."""
    rule = intake_events.RoutingRulesPublished.Rule(
        id=f"north-town-to-{worker}", priority=50, centres=["ctr-north-town"], workers=[worker]
    )
    publish(
        suite,
        "intake",
        intake_events.RoutingRulesPublished(
            version=version, rules=[rule], fallback="centre_duty_worker"
        ),
    )
    eventually(
        lambda: database.published_routing_rules.find_one(
            {"_id": ORGANISATION, "rule_set_version": version}
        ),
        timeout=30,
    )


def routed_to(suite: Suite, database: Any) -> list[str]:
    """The workers a new North Town housing client reaches."""
    referral_id = f"referral-{secrets.token_hex(4)}"
    publish(
        suite,
        "clients",
        clients_events.ClientRegistered(
            client_id=f"client-{secrets.token_hex(4)}",
            referral_id=referral_id,
            display_name="Routed Person",
            region_id="reg-north",
            centre_id="ctr-north-town",
            client_type="senior",
            problem_type="housing",
            status="active",
        ),
    )
    notes = eventually(
        lambda: list(database.notifications.find({"referral_id": referral_id})), timeout=30
    )
    return sorted(n["worker_id"] for n in notes)


def test_the_next_client_after_a_newer_version_is_stored_goes_by_it(
    suite: Suite, database: Any
) -> None:
    assert routed_to(suite, database) == ["w-anna"]  # the organisation file's rules
    publish_rules(suite, database, 1, "w-petr")
    assert routed_to(suite, database) == ["w-petr"]
    assert routed_to(suite, database) == ["w-petr"]  # the same set, kept in memory
    publish_rules(suite, database, 2, "w-manager-north")
    assert routed_to(suite, database) == ["w-manager-north"]

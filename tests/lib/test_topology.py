"""The topology step declares exactly the queues the services' handlers consume from,
bound to exactly their routing keys: the same bindings the README's Events catalogue is
checked against."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import kombu
import pytest

from casework_common import topology
from casework_common.config import SERVICES
from casework_dev.testing.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]


def catalogue_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "events_catalogue", ROOT / "tests" / "test_events_catalogue.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_topology_declares_the_queues_and_keys_of_every_declared_handler() -> None:
    declared = {
        queue.name: sorted(
            b.routing_key for b in queue.bindings if b.exchange.name == "casework.events"
        )
        for service in SERVICES
        for queue in topology.consumer_queues(service)
    }
    catalogued = {name: sorted(keys) for name, keys in catalogue_check().bindings().items()}

    assert declared == catalogued


def test_each_service_declares_only_queues_of_its_own_name() -> None:
    for service in SERVICES:
        for queue in topology.consumer_queues(service):
            assert queue.name.startswith(f"{service}.")


def test_the_step_declares_queues_that_keep_an_event_published_before_any_consumer_ran(
    amqp_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The events exchange of this session's own vhost: the handlers' queues were bound
    # to its name when their module was imported.
    exchange = "casework.events"
    monkeypatch.setenv("AMQP_URI_CLIENTS", amqp_uri)

    assert topology.main(["clients"]) == 0

    with kombu.Connection(amqp_uri) as connection:
        channel = connection.channel()
        # The session's vhost is shared with other tests, whose strays may already sit
        # in the unrouted queue: this publication must add none.
        unrouted_before = channel.queue_declare(f"{exchange}.unrouted", passive=True).message_count
        channel.basic_publish(
            channel.prepare_message(b"{}"),
            exchange=exchange,
            routing_key="intake.referral.submitted.v1",
        )
        queue = "clients.register-referred-person"
        eventually(lambda: channel.queue_declare(queue, passive=True).message_count == 1)
        unrouted = channel.queue_declare(f"{exchange}.unrouted", passive=True).message_count
        assert unrouted == unrouted_before
        # The queues outlive this test's exchange; the next test run declares them anew.
        for name in topology.consumer_queues("clients"):
            channel.queue_delete(name.name)

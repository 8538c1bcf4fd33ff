"""Specification of the event codec: routing key <-> payload message from the protos'
options, proto3 JSON payloads with today's keys, tolerant reading of unknown fields,
and anything unreadable refused as a MalformedEvent (dead-lettered, never retried)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import kombu
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace

from casework.clients.v1 import events_pb2 as clients_events
from casework.documents.v1 import events_pb2 as documents_events
from casework.intake.v1 import events_pb2 as intake_events
from casework_common import contracts, events_runtime, storage
from casework_common.contracts import UnreadablePayload
from casework_common.envelope import Actor, EventEnvelope, MalformedEvent
from casework_common.messaging import Publisher, dead_letter_exchange

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def timestamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def create_task_assigned(**overrides: Any) -> intake_events.TaskAssigned:
    fields: dict[str, Any] = {
        "project_id": "prj-1",
        "project_name": "Winter fair",
        "centre_id": "ctr-north-town",
        "task_id": "task-1",
        "title": "Book the hall",
        "assignee_id": "w-petr",
        "due_at": timestamp(T0),
        "status": "open",
        "assigned_by": "w-anna",
    }
    fields.update(overrides)
    return intake_events.TaskAssigned(**fields)


def create_task_payload(**overrides: Any) -> dict[str, Any]:
    payload = contracts.encode(create_task_assigned())
    payload.update(overrides)
    return payload


def test_every_event_message_is_registered_under_the_routing_key_its_option_names() -> None:
    registry = contracts.registry()
    assert registry["intake.referral.submitted.v1"] is intake_events.ReferralSubmitted
    assert registry["clients.client.registered.v1"] is clients_events.ClientRegistered
    assert registry["documents.contract.signed.v1"] is documents_events.ContractSigned
    for key, message in registry.items():
        assert contracts.routing_key_of(message) == key
        assert key.split(".")[0] in message.DESCRIPTOR.full_name.split(".")


def test_a_nested_type_is_no_event_and_cannot_be_encoded_as_a_payload() -> None:
    person = intake_events.ReferralSubmitted.Person(given_name="Jana")
    assert contracts.routing_key_of(person) == ""
    with pytest.raises(TypeError):
        contracts.encode(person)


def test_a_payload_keeps_the_proto_field_names_and_every_field_even_when_empty() -> None:
    registered = clients_events.ClientRegistered(client_id="cl-1", match="none")
    payload = contracts.encode(registered)
    assert payload["client_id"] == "cl-1"
    # A worker's registration has no referral: the key is there, empty, as today.
    assert payload["referral_id"] == "" and payload["score"] == 0
    assert set(payload) == {f.name for f in registered.DESCRIPTOR.fields}


def test_instants_travel_as_rfc3339_that_python_reads_back_and_numbers_as_json_numbers() -> None:
    payload = contracts.encode(create_task_assigned())
    assert payload["due_at"] == "2025-06-02T09:00:00Z"
    assert datetime.fromisoformat(payload["due_at"]) == T0
    consultation = intake_events.ConsultationRecorded(duration_minutes=15)
    assert contracts.encode(consultation)["duration_minutes"] == 15


def test_an_encoded_payload_decodes_to_the_same_message_and_survives_the_envelope() -> None:
    message = create_task_assigned()
    event = contracts.envelope(
        message, organisation="org-demo", actor=Actor("worker", "w-anna"), trace={}
    )
    assert (event.type, event.version) == ("intake.task.assigned", 1)
    assert event.routing_key == "intake.task.assigned.v1"
    wire = EventEnvelope.from_json(event.to_json())
    assert contracts.decode(wire.routing_key, wire.payload) == message
    assert contracts.read(wire, intake_events.TaskAssigned) == message


def test_todays_offset_timestamps_and_original_field_names_are_read() -> None:
    payload = create_task_payload(due_at="2025-06-02T09:00:00+00:00")
    decoded = contracts.decode("intake.task.assigned.v1", payload)
    assert decoded == create_task_assigned()


def test_fields_a_consumer_does_not_know_are_ignored() -> None:
    payload = create_task_payload(priority="high", checklist=[{"done": True}])
    assert contracts.decode("intake.task.assigned.v1", payload) == create_task_assigned()


def test_strict_reading_names_a_field_the_contract_lacks() -> None:
    payload = create_task_payload(priority="high")
    with pytest.raises(UnreadablePayload, match="priority"):
        contracts.decode("intake.task.assigned.v1", payload, strict=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", 42),
        ("title", ["a"]),
        ("due_at", "2025-06-02T09:00:00"),  # no zone: which 09:00?
        ("due_at", "next tuesday"),
        ("due_at", 1748854800),
    ],
)
def test_a_payload_of_the_wrong_shape_is_refused_as_malformed(field: str, value: Any) -> None:
    payload = create_task_payload(**{field: value})
    with pytest.raises(MalformedEvent, match=field):
        contracts.decode("intake.task.assigned.v1", payload)


@pytest.mark.parametrize("value", [True, "fifteen", 1.5, 2**40])
def test_a_number_field_refuses_what_is_not_a_whole_int32(value: Any) -> None:
    with pytest.raises(UnreadablePayload, match="duration_minutes"):
        contracts.decode("intake.consultation.recorded.v1", {"duration_minutes": value})


def test_a_routing_key_without_a_contract_is_refused() -> None:
    with pytest.raises(UnreadablePayload, match="no contract"):
        contracts.decode("intake.referral.teleported.v1", {})


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(UnreadablePayload):
        contracts.decode("intake.task.assigned.v1", ["not", "an", "object"])  # type: ignore[arg-type]


def test_a_consumer_reading_an_event_as_another_message_is_refused() -> None:
    event = contracts.envelope(
        create_task_assigned(), organisation="org-demo", actor=Actor.system("intake"), trace={}
    )
    with pytest.raises(UnreadablePayload, match="TaskOverdue"):
        contracts.read(event, intake_events.TaskOverdue)


def test_an_envelope_stays_one_json_document_with_the_payload_inline() -> None:
    event = contracts.envelope(
        create_task_assigned(), organisation="org-demo", actor=Actor.system("intake"), trace={}
    )
    wire = json.loads(event.to_json())
    assert wire["payload"]["assignee_id"] == "w-petr"
    assert set(wire) == {
        "id",
        "type",
        "version",
        "occurred_at",
        "organisation",
        "actor",
        "trace",
        "payload",
    }


@pytest.mark.usefixtures("mongo_db")
def test_the_events_runtime_dead_letters_an_event_whose_payload_does_not_parse(
    amqp_uri: str,
) -> None:
    exchange = f"casework.test-{secrets.token_hex(4)}"
    publisher = Publisher(amqp_uri, exchange)
    publisher.connect()
    bus = SimpleNamespace(
        settings=SimpleNamespace(service="notify"),
        publisher=publisher,
        tracer=trace.get_tracer("test"),
        relay=SimpleNamespace(publish_written=lambda written: None),
    )
    event = contracts.envelope(
        create_task_assigned(), organisation="org-demo", actor=Actor.system("intake"), trace={}
    ).to_dict()
    event["payload"]["due_at"] = "soon"
    calls: list[EventEnvelope] = []

    def handler(envelope: EventEnvelope) -> None:
        calls.append(envelope)
        contracts.read(envelope, intake_events.TaskAssigned)

    try:
        events_runtime._handle(bus, "notify.tell-assignee-task", json.dumps(event), handler)
        events_runtime._handle(bus, "notify.tell-assignee-task", json.dumps(event), handler)
        with kombu.Connection(amqp_uri) as connection:
            parked = connection.SimpleQueue(
                kombu.Queue(
                    f"{exchange}.dead-letter",
                    exchange=dead_letter_exchange(exchange),
                    routing_key="#",
                    durable=True,
                )
            )
            try:
                message = parked.get(timeout=15)
                message.ack()
            finally:
                parked.close()
    finally:
        publisher.close()
    assert message.headers["x-casework-consumer"] == "notify.tell-assignee-task"
    assert "due_at" in message.headers["x-casework-reason"]
    # Refused once and for all: the second delivery is recognised, never retried.
    assert len(calls) == 1
    assert storage.already_processed("notify.tell-assignee-task", event["id"])

"""Specification of the event envelope: what travels on the bus, and that anything
unreadable is refused as MalformedEvent (so it is dead-lettered, never retried)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.envelope import MAX_EVENT_BYTES, Actor, EventEnvelope, MalformedEvent

T0 = datetime(2025, 6, 1, 9, 30, 15, 123456, tzinfo=UTC)


def create_envelope(**overrides: Any) -> EventEnvelope:
    fields: dict[str, Any] = {
        "id": "0b7e5e7a-4c1f-4a57-9d1e-3f7f0c2a9b11",
        "type": "intake.referral.submitted",
        "version": 1,
        "organisation": "org-demo",
        "actor": Actor(kind="partner", subject="partner-city-hospital"),
        "payload": {"referral_id": "ref-1", "person": {"given_name": "Jana"}, "n": [1, 2]},
        "occurred_at": T0,
        "trace": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    }
    fields.update(overrides)
    return EventEnvelope(**fields)


def create_event_dict(**overrides: Any) -> dict[str, Any]:
    """The wire form of a valid event; an override of None removes the key."""
    data = create_envelope().to_dict()
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def refused(body: bytes | str) -> str:
    with pytest.raises(MalformedEvent) as raised:
        EventEnvelope.from_json(body)
    return str(raised.value)


# ------------------------------------------------------------------------ round trip


def test_an_envelope_survives_a_round_trip_through_json() -> None:
    envelope = create_envelope(payload={"name": "Nováková", "nested": {"a": [1, "b"]}})

    assert EventEnvelope.from_json(envelope.to_json()) == envelope


def test_a_round_trip_also_works_from_text() -> None:
    envelope = create_envelope()

    assert EventEnvelope.from_json(envelope.to_json().decode()) == envelope


def test_the_wire_form_names_every_field() -> None:
    assert json.loads(create_envelope().to_json()) == {
        "id": "0b7e5e7a-4c1f-4a57-9d1e-3f7f0c2a9b11",
        "type": "intake.referral.submitted",
        "version": 1,
        "occurred_at": "2025-06-01T09:30:15.123456+00:00",
        "organisation": "org-demo",
        "actor": {"kind": "partner", "subject": "partner-city-hospital"},
        "trace": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        "payload": {"referral_id": "ref-1", "person": {"given_name": "Jana"}, "n": [1, 2]},
    }


def test_non_ascii_text_travels_as_utf8() -> None:
    body = create_envelope(payload={"name": "Bērziņa"}).to_json()

    assert "Bērziņa".encode() in body


def test_a_missing_trace_reads_as_empty() -> None:
    assert EventEnvelope.from_dict(create_event_dict(trace=None)).trace == {}


def test_new_envelopes_get_distinct_ids() -> None:
    a = EventEnvelope("a.b.c", 1, "org-demo", Actor.system("intake"), {})
    b = EventEnvelope("a.b.c", 1, "org-demo", Actor.system("intake"), {})

    assert a.id != b.id
    assert a.actor == Actor(kind="system", subject="intake")
    assert a.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    ("event_type", "version", "routing_key"),
    [
        ("intake.referral.submitted", 1, "intake.referral.submitted.v1"),
        ("clients.client.registered", 2, "clients.client.registered.v2"),
    ],
)
def test_the_routing_key_carries_the_version(
    event_type: str, version: int, routing_key: str
) -> None:
    assert create_envelope(type=event_type, version=version).routing_key == routing_key


# ------------------------------------------------------------------------ malformed


def test_a_body_that_is_not_json_is_refused() -> None:
    assert refused(b"{not json").startswith("not JSON:")
    assert refused(b"\xff\xfe\x00garbage").startswith("not JSON:")
    assert refused(b"").startswith("not JSON:")


@pytest.mark.parametrize("body", [b"[]", b"42", b'"event"', b"null", b"true"])
def test_json_that_is_not_an_object_is_refused(body: bytes) -> None:
    assert refused(body) == "an event is a JSON object"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": None}, "id must be a non-empty string"),
        ({"id": ""}, "id must be a non-empty string"),
        ({"id": 7}, "id must be a non-empty string"),
        ({"type": None}, "type must be a non-empty string"),
        ({"type": "IntakeReferralSubmitted"}, "type must look like <service>.<entity>.<verb>"),
        ({"type": "intake.referral"}, "type must look like <service>.<entity>.<verb>"),
        ({"type": "intake.referral.submitted.v1"}, "type must look like <service>.<entity>.<verb>"),
        ({"type": "Intake.referral.submitted"}, "type must look like <service>.<entity>.<verb>"),
        ({"version": None}, "version must be a positive integer"),
        ({"version": 0}, "version must be a positive integer"),
        ({"version": -1}, "version must be a positive integer"),
        ({"version": True}, "version must be a positive integer"),
        ({"version": 1.0}, "version must be a positive integer"),
        ({"version": "1"}, "version must be a positive integer"),
        ({"organisation": None}, "organisation must be a non-empty string"),
        ({"organisation": ""}, "organisation must be a non-empty string"),
        ({"actor": None}, "actor must be an object"),
        ({"actor": "partner-city-hospital"}, "actor must be an object"),
        ({"actor": {"kind": "partner"}}, "subject must be a non-empty string"),
        ({"actor": {"subject": "x"}}, "kind must be a non-empty string"),
        ({"payload": None}, "payload must be an object"),
        ({"payload": [1, 2]}, "payload must be an object"),
        ({"occurred_at": "yesterday"}, "occurred_at must be an ISO 8601 timestamp"),
        ({"occurred_at": None}, "occurred_at must be a non-empty string"),
        ({"trace": {"traceparent": 1}}, "trace must map strings to strings"),
        ({"trace": ["traceparent"]}, "trace must map strings to strings"),
    ],
)
def test_each_malformed_field_is_refused_with_a_message_naming_it(
    overrides: dict[str, Any], message: str
) -> None:
    body = json.dumps(create_event_dict(**overrides)).encode()

    assert message in refused(body)


def test_every_problem_of_an_event_is_named_at_once() -> None:
    message = refused(b'{"type": "bad", "version": 0}')

    for expected in (
        "id must be",
        "type must look like",
        "version must be",
        "organisation must be",
        "actor must be",
        "occurred_at must be",
        "payload must be",
    ):
        assert expected in message


def test_a_body_over_the_size_limit_is_refused_before_parsing() -> None:
    body = b" " * (MAX_EVENT_BYTES + 1)

    assert refused(body) == f"event of {MAX_EVENT_BYTES + 1} bytes exceeds {MAX_EVENT_BYTES}"


def test_a_body_at_the_size_limit_is_read() -> None:
    small = create_envelope(payload={"pad": ""}).to_json()
    pad = MAX_EVENT_BYTES - len(small)
    envelope = create_envelope(payload={"pad": "x" * pad})
    body = envelope.to_json()
    assert len(body) == MAX_EVENT_BYTES

    assert EventEnvelope.from_json(body) == envelope


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000])
def test_a_deeply_nested_body_is_refused_as_malformed(body: bytes) -> None:
    assert len(body) <= MAX_EVENT_BYTES

    assert refused(body)


def test_text_that_cannot_be_encoded_is_refused_as_malformed() -> None:
    assert refused('{"id": "\ud800"}')


# ------------------------------------------------------------------------ properties


@given(st.binary(max_size=2048))
def test_from_json_on_arbitrary_bytes_raises_nothing_but_malformed_event(body: bytes) -> None:
    try:
        envelope = EventEnvelope.from_json(body)
    except MalformedEvent as exc:
        assert str(exc)
    else:
        assert envelope.version >= 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_fields = ("id", "type", "version", "organisation", "actor", "payload", "occurred_at", "trace")


@given(st.dictionaries(st.sampled_from(_fields), _json, max_size=len(_fields)))
def test_from_json_on_objects_of_arbitrary_field_values_raises_only_malformed_event(
    replacements: dict[str, Any],
) -> None:
    body = json.dumps({**create_event_dict(), **replacements}).encode()

    try:
        envelope = EventEnvelope.from_json(body)
    except MalformedEvent as exc:
        assert str(exc)
    else:
        assert EventEnvelope.from_json(envelope.to_json()) == envelope

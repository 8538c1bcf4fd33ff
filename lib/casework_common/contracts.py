"""Event payloads as typed contracts: the messages of protos/casework/<service>/v1/events.proto.

Each message names its routing key in the `(casework.events.v1.routing_key)` option; the
registry here is built from the generated descriptors, so the schema is the one place
where a key and its payload meet.

Encoding. The envelope stays one JSON document (readable in the dead-letter queue, by
`make replay` and by partners' webhooks) and its `payload` is the message in proto3 JSON
with the field names as written in the proto, every field present even at its default.
The proto field names are today's payload keys, so a consumer still reading the dict
finds every key it reads now (an empty `referral_id` stays `""`, not absent). Instants
are RFC 3339 (`2025-06-02T09:00:00Z`, which `datetime.fromisoformat` reads), calendar
dates `YYYY-MM-DD` strings, numbers int32 (proto JSON would quote an int64). Binary
protobuf with a content type would save bytes, but would make the envelope two formats
and every parked message unreadable without the schema; events here are small.

Reading is tolerant: a field the consumer's schema does not know (a newer producer's
additive field) is ignored. A payload that does not parse (a wrong type, a timestamp
without a zone, a key without a contract) raises UnreadablePayload, a MalformedEvent:
the events runtime dead-letters it with the reason instead of retrying it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from casework_common.config import SERVICES
from casework_common.envelope import Actor, EventEnvelope, MalformedEvent

M = TypeVar("M", bound=Message)

# Generated from protos/casework/events/v1/options.proto; also registers the option.
_OPTIONS = importlib.import_module("casework.events.v1.options_pb2")
#: The `(casework.events.v1.routing_key)` message option, for reading descriptors.
ROUTING_KEY_OPTION = _OPTIONS.routing_key


class UnreadablePayload(MalformedEvent):
    """An event whose payload does not parse into its contract; dead-lettered."""


def routing_key_of(message: Message | type[Message]) -> str:
    """The routing key a payload message travels under ('' for a message that is not
    an event payload, such as a nested type)."""
    options = message.DESCRIPTOR.GetOptions()
    return str(options.Extensions[ROUTING_KEY_OPTION])


@functools.cache
def registry() -> Mapping[str, type[Message]]:
    """Routing key -> payload message class, for every service's events.proto."""
    found: dict[str, type[Message]] = {}
    for service in SERVICES:
        try:
            module = importlib.import_module(f"casework.{service}.v1.events_pb2")
        except ModuleNotFoundError:
            continue  # a service that publishes nothing yet has no events.proto
        for name in module.DESCRIPTOR.message_types_by_name:
            cls: type[Message] = getattr(module, name)
            key = routing_key_of(cls)
            if not key:
                continue
            if not key.startswith(f"{service}."):
                raise RuntimeError(f"{cls.DESCRIPTOR.full_name}: {key} is not {service}'s key")
            if key in found:
                raise RuntimeError(f"{key} is the routing key of two messages")
            found[key] = cls
    return found


def encode(message: Message) -> dict[str, Any]:
    """The envelope's `payload` for this message."""
    if not routing_key_of(message):
        raise TypeError(f"{message.DESCRIPTOR.full_name} is not an event payload")
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def from_facts(message_type: type[M], facts: Mapping[str, Any]) -> M:
    """The payload message built from a producer's facts (the plain values a domain
    function lists, instants and dates as ISO strings). Strict: a key the message lacks
    or a value of the wrong type is the producer's bug and raises ValueError where the
    event is made, so it is never stored in an outbox nor published."""
    try:
        return json_format.ParseDict(dict(facts), message_type(), ignore_unknown_fields=False)
    except (json_format.ParseError, TypeError) as exc:
        raise ValueError(f"{message_type.DESCRIPTOR.full_name}: {exc}") from None


def envelope(
    message: Message,
    *,
    organisation: str,
    actor: Actor,
    trace: Mapping[str, str],
) -> EventEnvelope:
    """An event carrying this message, its type and version taken from the routing key."""
    event_type, _, version = routing_key_of(message).rpartition(".v")
    return EventEnvelope(
        type=event_type,
        version=int(version),
        organisation=organisation,
        actor=actor,
        payload=encode(message),
        trace=dict(trace),
    )


def decode(routing_key: str, payload: Mapping[str, Any], *, strict: bool = False) -> Message:
    """The payload as the message of its routing key. Fields the schema does not know
    are ignored unless `strict` (the contract tests use strict to prove a producer
    sends nothing the schema lacks)."""
    cls = registry().get(routing_key)
    if cls is None:
        raise UnreadablePayload(f"{routing_key}: no contract for this routing key")
    return _parse(cls, routing_key, payload, strict=strict)


def read(event: EventEnvelope, message_type: type[M]) -> M:
    """A consumer's view of an event it is bound to: the payload as `message_type`,
    refused when the event's routing key carries another message."""
    cls = registry().get(event.routing_key)
    if cls is not message_type:
        raise UnreadablePayload(
            f"{event.routing_key} does not carry {message_type.DESCRIPTOR.full_name}"
        )
    return _parse(message_type, event.routing_key, event.payload, strict=False)


def instant(message: Message, field: str) -> datetime:
    """A timestamp field read as an aware UTC datetime; an absent one makes the payload
    unreadable (proto3 would read it as 1970)."""
    if not message.HasField(field):
        raise UnreadablePayload(f"{message.DESCRIPTOR.full_name}.{field} is missing")
    moment: datetime = getattr(message, field).ToDatetime(tzinfo=UTC)
    return moment


def _parse(cls: type[M], routing_key: str, payload: Mapping[str, Any], *, strict: bool) -> M:
    if not isinstance(payload, Mapping):
        raise UnreadablePayload(f"{routing_key}: payload must be an object")
    try:
        return json_format.ParseDict(dict(payload), cls(), ignore_unknown_fields=not strict)
    except (json_format.ParseError, TypeError, ValueError, RecursionError) as exc:
        raise UnreadablePayload(f"{routing_key} payload unreadable: {exc}") from None

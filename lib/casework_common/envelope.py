"""The envelope every event travels in.

Routing key and payload both carry the version (`clients.client.registered.v1`), so a
consumer bound to v1 never receives a v2 it cannot read, and a stored event still says
what it was when replayed from the dead-letter queue.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_TYPE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*\.[a-z][a-z_]*$")
MAX_EVENT_BYTES = 256 * 1024


class MalformedEvent(ValueError):
    """A message that is not a readable casework event; it goes to the dead-letter queue."""


@dataclass(frozen=True)
class Actor:
    """Who caused the event: a worker, a partner, or the system itself."""

    kind: str  # "worker" | "partner" | "system"
    subject: str

    @staticmethod
    def system(component: str) -> Actor:
        return Actor(kind="system", subject=component)


@dataclass(frozen=True)
class EventEnvelope:
    type: str  # <service>.<entity>.<verb>, past tense
    version: int
    organisation: str
    actor: Actor
    payload: Mapping[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace: Mapping[str, str] = field(default_factory=dict)

    @property
    def routing_key(self) -> str:
        return f"{self.type}.v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "organisation": self.organisation,
            "actor": {"kind": self.actor.kind, "subject": self.actor.subject},
            "trace": dict(self.trace),
            "payload": dict(self.payload),
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> EventEnvelope:
        problems: list[str] = []

        def text(key: str, source: Mapping[str, Any] = data) -> str:
            value = source.get(key)
            if not isinstance(value, str) or not value:
                problems.append(f"{key} must be a non-empty string")
                return ""
            return value

        event_id = text("id")
        event_type = text("type")
        if event_type and not _TYPE.match(event_type):
            problems.append("type must look like <service>.<entity>.<verb>")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            problems.append("version must be a positive integer")
            version = 0
        organisation = text("organisation")
        actor_raw = data.get("actor")
        actor = Actor(kind="", subject="")
        if isinstance(actor_raw, Mapping):
            actor = Actor(kind=text("kind", actor_raw), subject=text("subject", actor_raw))
        else:
            problems.append("actor must be an object")
        occurred_at = datetime.now(UTC)
        try:
            occurred_at = datetime.fromisoformat(text("occurred_at"))
        except ValueError:
            problems.append("occurred_at must be an ISO 8601 timestamp")
        payload = data.get("payload")
        if not isinstance(payload, Mapping):
            problems.append("payload must be an object")
            payload = {}
        trace = data.get("trace") or {}
        if not isinstance(trace, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in trace.items()
        ):
            problems.append("trace must map strings to strings")
            trace = {}
        if problems:
            raise MalformedEvent("; ".join(problems))
        return EventEnvelope(
            id=event_id,
            type=event_type,
            version=version,
            organisation=organisation,
            actor=actor,
            payload=payload,
            occurred_at=occurred_at,
            trace=trace,
        )

    @staticmethod
    def from_json(body: bytes | str) -> EventEnvelope:
        if isinstance(body, str):
            try:
                body = body.encode()
            except UnicodeEncodeError as exc:
                raise MalformedEvent(f"not encodable as UTF-8: {exc}") from None
        if len(body) > MAX_EVENT_BYTES:
            raise MalformedEvent(f"event of {len(body)} bytes exceeds {MAX_EVENT_BYTES}")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedEvent(f"not JSON: {exc}") from None
        except RecursionError:
            # A small body can nest deeper than the parser allows; without this it
            # would escape as an unexpected error and be redelivered forever.
            raise MalformedEvent("not JSON: nested too deeply") from None
        if not isinstance(data, Mapping):
            raise MalformedEvent("an event is a JSON object")
        return EventEnvelope.from_dict(data)

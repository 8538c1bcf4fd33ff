"""nameko entry point of clients: turns intake's referrals into client cards."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from casework_clients import services
from casework_clients.adapters.repository import ClientDocument
from casework_clients.bootstrap import bootstrap
from casework_clients.domain.cards import ReferralFacts
from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.telemetry import current_trace_carrier


def referral_facts(envelope: EventEnvelope) -> ReferralFacts:
    """Read intake.referral.submitted.v1; an event missing what we need is poison."""
    payload: Mapping[str, Any] = envelope.payload
    try:
        person = payload["person"]
        contact = payload.get("contact") or {}
        return ReferralFacts(
            referral_id=str(payload["referral_id"]),
            organisation=envelope.organisation,
            given_name=str(person["given_name"]),
            family_name=str(person["family_name"]),
            date_of_birth=date.fromisoformat(person["date_of_birth"]),
            phone=str(contact.get("phone", "")),
            email=str(contact.get("email", "")),
            address=str(contact.get("address", "")),
            region_id=str(payload["region_id"]),
            centre_id=str(payload["centre_id"]),
            client_type=str(payload["client_type"]),
            problem_type=str(payload["problem_type"]),
            channel=str(payload.get("channel", "")),
            submitted_at=datetime.fromisoformat(payload["submitted_at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonEvent(f"referral.submitted payload unreadable: {exc!r}") from None


class ClientsEvents(EventsService):
    name = "clients"
    casework_service = "clients"
    outbox_documents = (ClientDocument,)

    def __init__(self) -> None:
        self.app = bootstrap()

    @event_handler("clients.register-referred-person", ["intake.referral.submitted.v1"])
    def on_referral_submitted(self, envelope: EventEnvelope) -> None:
        facts = referral_facts(envelope)
        services.register_from_referral(
            facts,
            self.app.cards_of_organisation(envelope.organisation),
            now=self.app.clock(),
            trace=current_trace_carrier(),
        )

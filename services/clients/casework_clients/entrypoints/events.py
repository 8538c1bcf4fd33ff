"""nameko entry point of clients: referrals and consultations from intake, contracts
from documents, and the inactivity rule on a timer."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from nameko.timer import timer

from casework_clients import services
from casework_clients.adapters.repository import (
    ClientDocument,
    FamilyDocument,
    MatchProposalDocument,
    SharingRequestDocument,
)
from casework_clients.bootstrap import bootstrap
from casework_clients.domain.cards import Consultation, Contract, ReferralFacts
from casework_common.config import MissingConfiguration
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import NotFound
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.telemetry import current_trace_carrier

log = logging.getLogger(__name__)


def _interval(variable: str, default: float) -> float:
    raw = os.environ.get(variable) or ""
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise MissingConfiguration(variable, f"must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise MissingConfiguration(variable, f"must be positive, got {raw!r}")
    return value


# How often the inactivity rule runs (it is idempotent: running often only costs a query).
INACTIVITY_SWEEP_SECONDS = _interval("CASEWORK_INACTIVITY_SWEEP_SECONDS", 3600.0)


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


def consultation_facts(envelope: EventEnvelope) -> Consultation:
    """Read intake.consultation.recorded.v1 (the person may be all empty: anonymous)."""
    payload: Mapping[str, Any] = envelope.payload
    try:
        person = payload.get("person") or {}
        contact = payload.get("contact") or {}
        born = str(person.get("date_of_birth") or "")
        duration = payload.get("duration_minutes", 0)
        if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
            raise ValueError(f"duration_minutes must be a whole number, got {duration!r}")
        consultation_id = str(payload["consultation_id"])
        if not consultation_id:
            raise ValueError("consultation_id is empty")
        return Consultation(
            consultation_id=consultation_id,
            organisation=envelope.organisation,
            given_name=str(person.get("given_name") or "").strip(),
            family_name=str(person.get("family_name") or "").strip(),
            date_of_birth=date.fromisoformat(born) if born else None,
            phone=str(contact.get("phone") or ""),
            email=str(contact.get("email") or ""),
            topic=str(payload.get("topic") or ""),
            duration_minutes=duration,
            worker_id=str(payload.get("worker_id") or ""),
            channel=str(payload.get("channel") or ""),
            centre_id=str(payload.get("centre_id") or ""),
            recorded_at=datetime.fromisoformat(str(payload["recorded_at"])),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PoisonEvent(f"consultation.recorded payload unreadable: {exc!r}") from None


def contract_facts(envelope: EventEnvelope, recorded_at: datetime) -> tuple[str, Contract]:
    """Read documents.contract.signed.v1."""
    payload: Mapping[str, Any] = envelope.payload
    try:
        until = str(payload.get("valid_until") or "")
        client_id = str(payload["client_id"])
        contract_id = str(payload["contract_id"])
        if not client_id or not contract_id:
            raise ValueError("client_id and contract_id are required")
        contract = Contract(
            contract_id=contract_id,
            signed_on=date.fromisoformat(str(payload["signed_on"])),
            valid_until=date.fromisoformat(until) if until else None,
            recorded_at=recorded_at,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonEvent(f"contract.signed payload unreadable: {exc!r}") from None
    if contract.valid_until is not None and contract.valid_until < contract.signed_on:
        raise PoisonEvent("contract.signed: valid_until is before signed_on")
    return client_id, contract


class ClientsEvents(EventsService):
    name = "clients"
    casework_service = "clients"
    outbox_documents = (
        ClientDocument,
        FamilyDocument,
        MatchProposalDocument,
        SharingRequestDocument,
    )

    def __init__(self) -> None:
        self.app = bootstrap()

    @event_handler("clients.register-referred-person", ["intake.referral.submitted.v1"])
    def on_referral_submitted(self, envelope: EventEnvelope) -> None:
        facts = referral_facts(envelope)
        services.register_from_referral(
            facts,
            self.app.cards_of_organisation(envelope.organisation),
            proposals_repo=self.app.proposals_of_organisation(envelope.organisation),
            now=self.app.clock(),
            trace=current_trace_carrier(),
            settings=self.app.status_settings_of(envelope.organisation),
            consultations=self.app.consultations_of(envelope.organisation),
            disclosure=self.app.disclosure_of(envelope.organisation),
        )

    @event_handler("clients.join-consultation", ["intake.consultation.recorded.v1"])
    def on_consultation_recorded(self, envelope: EventEnvelope) -> None:
        services.consultation_recorded(
            consultation_facts(envelope),
            self.app.cards_of_organisation(envelope.organisation),
            self.app.consultations_of(envelope.organisation),
            now=self.app.clock(),
            trace=current_trace_carrier(),
        )

    @event_handler("clients.apply-contract", ["documents.contract.signed.v1"])
    def on_contract_signed(self, envelope: EventEnvelope) -> None:
        now = self.app.clock()
        client_id, contract = contract_facts(envelope, now)
        if contract.signed_on > now.date():
            raise PoisonEvent("contract.signed: signed_on is in the future")
        try:
            services.record_contract_signed(
                client_id,
                contract,
                self.app.cards_of_organisation(envelope.organisation),
                settings=self.app.status_settings_of(envelope.organisation),
                actor=Actor(kind=envelope.actor.kind, subject=envelope.actor.subject),
                now=now,
                trace=current_trace_carrier(),
            )
        except NotFound as exc:
            raise PoisonEvent(f"contract.signed for an unknown client: {exc}") from None

    @event_handler("clients.repoint-merged-families", ["clients.client.merged.v1"])
    def on_client_merged(self, envelope: EventEnvelope) -> None:
        """Finishes a merge whose call stopped before re-pointing families (idempotent:
        usually the call already did it and nothing is left to change)."""
        try:
            absorbed = str(envelope.payload["absorbed_client_id"])
            survivor = str(envelope.payload["survivor_client_id"])
        except KeyError as exc:
            raise PoisonEvent(f"client.merged payload lacks {exc}") from None
        services.repoint_families(
            absorbed,
            survivor,
            self.app.families_of_organisation(envelope.organisation),
            self.app.cards_of_organisation(envelope.organisation),
            actor=Actor.system("clients.merge"),
            now=self.app.clock(),
            trace=current_trace_carrier(),
            trace_id=envelope.trace.get("traceparent", "")[3:35],
        )

    @timer(interval=INACTIVITY_SWEEP_SECONDS)  # type: ignore[misc]
    def sweep_inactivity(self) -> None:
        """The inactivity rule of every organisation that switched it on."""
        now = self.app.clock()
        for organisation, settings in self.app.status_settings.items():
            try:
                closed = services.sweep_inactivity(
                    self.app.cards_of_organisation(organisation),
                    settings,
                    today=now.date(),
                    now=now,
                    trace={},
                )
            except Exception:
                log.exception("inactivity sweep failed; the next run retries")
                continue
            if closed:
                log.info(
                    "inactivity rule closed episodes",
                    extra={"fields": {"organisation": organisation, "closed": closed}},
                )
                self.bus.relay.run_once()

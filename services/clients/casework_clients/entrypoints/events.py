"""nameko entry point of clients: referrals and consultations from intake, contracts
from documents, and the inactivity rule on a timer."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from nameko.timer import timer

from casework.clients.v1 import events_pb2 as clients_events
from casework.documents.v1 import events_pb2 as documents_events
from casework.intake.v1 import events_pb2 as intake_events
from casework.plans.v1 import events_pb2 as plans_events
from casework_clients import services
from casework_clients.adapters.repository import (
    ClientDocument,
    ClientRepository,
    FamilyDocument,
    FamilyRepository,
    MatchProposalDocument,
    SharingRequestDocument,
)
from casework_clients.bootstrap import Clients, bootstrap
from casework_clients.domain.cards import Consultation, Contract, ReferralFacts
from casework_clients.domain.contract_end import UnknownContract
from casework_common import contracts
from casework_common.config import MissingConfiguration
from casework_common.envelope import EventEnvelope
from casework_common.errors import NotFound
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork, opened
from casework_common.wiring import Wired, Wiring

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
    referral = contracts.read(envelope, intake_events.ReferralSubmitted)
    try:
        return ReferralFacts(
            referral_id=referral.referral_id,
            organisation=envelope.organisation,
            given_name=referral.person.given_name,
            family_name=referral.person.family_name,
            # Empty for a person without papers (seed 004).
            date_of_birth=(
                date.fromisoformat(referral.person.date_of_birth)
                if referral.person.date_of_birth
                else None
            ),
            phone=referral.contact.phone,
            email=referral.contact.email,
            address=referral.contact.address,
            region_id=referral.region_id,
            centre_id=referral.centre_id,
            client_type=referral.client_type,
            problem_type=referral.problem_type,
            channel=referral.channel,
            submitted_at=contracts.instant(referral, "submitted_at"),
        )
    except ValueError as exc:
        raise PoisonEvent(f"referral.submitted payload unreadable: {exc!r}") from None


def consultation_facts(envelope: EventEnvelope) -> Consultation:
    """Read intake.consultation.recorded.v1 (the person may be all empty: anonymous)."""
    recorded = contracts.read(envelope, intake_events.ConsultationRecorded)
    try:
        born = recorded.person.date_of_birth
        if recorded.duration_minutes < 0:
            raise ValueError(
                f"duration_minutes must not be negative, got {recorded.duration_minutes}"
            )
        if not recorded.consultation_id:
            raise ValueError("consultation_id is empty")
        return Consultation(
            consultation_id=recorded.consultation_id,
            organisation=envelope.organisation,
            given_name=recorded.person.given_name.strip(),
            family_name=recorded.person.family_name.strip(),
            date_of_birth=date.fromisoformat(born) if born else None,
            phone=recorded.contact.phone,
            email=recorded.contact.email,
            topic=recorded.topic,
            duration_minutes=recorded.duration_minutes,
            worker_id=recorded.worker_id,
            channel=recorded.channel,
            centre_id=recorded.centre_id,
            recorded_at=contracts.instant(recorded, "recorded_at"),
        )
    except ValueError as exc:
        raise PoisonEvent(f"consultation.recorded payload unreadable: {exc!r}") from None


def contract_facts(envelope: EventEnvelope, recorded_at: datetime) -> tuple[str, Contract]:
    """Read documents.contract.signed.v1."""
    signed = contracts.read(envelope, documents_events.ContractSigned)
    try:
        if not signed.client_id or not signed.contract_id:
            raise ValueError("client_id and contract_id are required")
        contract = Contract(
            contract_id=signed.contract_id,
            signed_on=date.fromisoformat(signed.signed_on),
            valid_until=date.fromisoformat(signed.valid_until) if signed.valid_until else None,
            recorded_at=recorded_at,
        )
    except ValueError as exc:
        raise PoisonEvent(f"contract.signed payload unreadable: {exc!r}") from None
    if contract.valid_until is not None and contract.valid_until < contract.signed_on:
        raise PoisonEvent("contract.signed: valid_until is before signed_on")
    return signed.client_id, contract


def intake_contact(envelope: EventEnvelope) -> services.ContactElsewhere:
    """Read intake.referral.acknowledged.v1 or intake.referral.first_contact_recorded.v1:
    a worker took the referred person on or reached them, which counts as contact."""
    acknowledged = envelope.type == "intake.referral.acknowledged"
    if acknowledged:
        ack = contracts.read(envelope, intake_events.ReferralAcknowledged)
        referral_id, worker_id, channel = ack.referral_id, ack.worker_id, ""
        at = contracts.instant(ack, "acknowledged_at")
        summary = f"referral {referral_id} taken on by {worker_id} (intake)"
    else:
        first = contracts.read(envelope, intake_events.ReferralFirstContactRecorded)
        referral_id, worker_id, channel = first.referral_id, first.worker_id, first.channel
        at = contracts.instant(first, "first_contact_at")
        summary = f"first contact of referral {referral_id} ({channel or 'channel unknown'})"
    if not referral_id:
        raise PoisonEvent(f"{envelope.type}: referral_id is empty")
    return services.ContactElsewhere(
        contact_id=f"intake-{'ack' if acknowledged else 'first'}-{referral_id}",
        client_id="",
        referral_id=referral_id,
        on=at.date(),
        channel=channel,
        worker_id=worker_id,
        summary=summary,
        source="intake",
    )


def plans_contact(envelope: EventEnvelope) -> services.ContactElsewhere:
    """Read plans.monitoring.contact_recorded.v1: a monitoring contact of a plan is a
    contact with its client."""
    contact = contracts.read(envelope, plans_events.MonitoringContactRecorded)
    if not contact.client_id or not contact.contact_id:
        raise PoisonEvent(f"{envelope.type}: client_id and contact_id are required")
    try:
        on = date.fromisoformat(contact.contacted_on)
    except ValueError:
        raise PoisonEvent(f"{envelope.type}: contacted_on is not a date") from None
    return services.ContactElsewhere(
        contact_id=f"plans-monitoring-{contact.contact_id}",
        client_id=contact.client_id,
        referral_id="",
        on=on,
        channel=contact.mode,
        worker_id=contact.worker_id,
        summary=f"monitoring contact of plan {contact.plan_id} ({contact.mode or 'mode unknown'})",
        source="plans",
    )


def outreach_contacts(envelope: EventEnvelope) -> list[services.ContactElsewhere]:
    """Read intake.outreach.outcome_recorded.v1: each client met is a contact."""
    done = contracts.read(envelope, intake_events.OutreachOutcomeRecorded)
    if not done.outreach_id:
        raise PoisonEvent("outreach.outcome_recorded: outreach_id is empty")
    on = contracts.instant(done, "planned_at").date()
    channel = "group_event" if done.activity_type == "group_event" else "outreach"
    return [
        services.ContactElsewhere(
            contact_id=f"intake-outreach-{done.outreach_id}-{client_id}",
            client_id=client_id,
            referral_id="",
            on=on,
            channel=channel,
            worker_id=done.worker_id,
            summary=f"met in outreach {done.outreach_id} ({done.activity_type or 'activity'})",
            source="intake",
        )
        for client_id in dict.fromkeys(done.client_ids)
        if client_id
    ]


def family_status_input(envelope: EventEnvelope) -> services.SharedStatusInput:
    """The client or family of an event that may change a family's shared status."""
    if envelope.type == "clients.client.status_changed":
        changed = contracts.read(envelope, clients_events.ClientStatusChanged)
        if not changed.client_id:
            raise PoisonEvent("client.status_changed: client_id is empty")
        return services.SharedStatusInput(client_id=changed.client_id)
    message = {
        "clients.family.created": clients_events.FamilyCreated,
        "clients.family.member_added": clients_events.FamilyMemberAdded,
        "clients.family.member_merged": clients_events.FamilyMemberMerged,
        "clients.family.status_changed": clients_events.FamilyStatusChanged,
    }.get(envelope.type)
    if message is None:
        raise PoisonEvent(f"{envelope.type} does not concern a family's status")
    family_id = str(getattr(contracts.read(envelope, message), "family_id", ""))
    if not family_id:
        raise PoisonEvent(f"{envelope.type}: family_id is empty")
    return services.SharedStatusInput(family_id=family_id)


def contract_end_facts(envelope: EventEnvelope) -> services.ContractEnded:
    """Read documents.contract.ended.v1: client, contract, first day not in force, reason
    and who ended it."""
    ended = contracts.read(envelope, documents_events.ContractEnded)
    try:
        if not ended.client_id or not ended.contract_id:
            raise ValueError("client_id and contract_id are required")
        ended_on = date.fromisoformat(ended.ended_on)
    except ValueError as exc:
        raise PoisonEvent(f"contract.ended payload unreadable: {exc!r}") from None
    return services.ContractEnded(
        client_id=ended.client_id,
        contract_id=ended.contract_id,
        ended_on=ended_on,
        reason=ended.reason,
        by=envelope.actor.subject,
    )


def merged_cards(envelope: EventEnvelope) -> tuple[str, str]:
    """Read clients.client.merged.v1: the absorbed card and its survivor."""
    merged = contracts.read(envelope, clients_events.ClientMerged)
    if not merged.absorbed_client_id or not merged.survivor_client_id:
        raise PoisonEvent("client.merged payload lacks absorbed_client_id or survivor_client_id")
    return merged.absorbed_client_id, merged.survivor_client_id


_PLAN_STATES: dict[str, type[Any]] = {
    "plans.plan.drafted": plans_events.PlanDrafted,
    "plans.plan.signed": plans_events.PlanSigned,
    "plans.plan.superseded": plans_events.PlanSuperseded,
    "plans.plan.closed": plans_events.PlanClosed,
}


def plan_state(envelope: EventEnvelope) -> services.PlanAnnounced:
    """plans.plan.*.v1: the client's plan, whether in effect, its next review date."""
    message_type = _PLAN_STATES.get(envelope.type)
    if message_type is None:
        raise PoisonEvent(f"{envelope.routing_key} is not a plan state")
    state: Any = contracts.read(envelope, message_type)
    if not state.client_id or not state.plan_id:
        raise PoisonEvent("plan state lacks client_id or plan_id")
    review = None
    if state.next_review_on:
        try:
            review = date.fromisoformat(state.next_review_on)
        except ValueError:
            raise PoisonEvent(f"next_review_on {state.next_review_on!r} is not a day") from None
    return services.PlanAnnounced(
        organisation=envelope.organisation,
        client_id=state.client_id,
        plan_id=state.plan_id,
        in_effect=state.in_effect,
        next_review_on=review,
        occurred_at=envelope.occurred_at,
    )


class ClientsEvents(EventsService):
    """Each handler translates: it reads the event into a command and runs the use case
    in a unit of work of the service itself (its moment, the event's trace), whose
    commit publishes what the use case saved."""

    name = "clients"
    casework_service = "clients"
    outbox_documents = (
        ClientDocument,
        FamilyDocument,
        MatchProposalDocument,
        SharingRequestDocument,
    )
    # Built once per process; every event's worker gets the same wiring.
    wired: Wired[Clients] = Wiring(bootstrap)  # type: ignore[assignment]

    @contextmanager
    def _unit(self, component: str = "clients", trace: Trace | None = None) -> Iterator[UnitOfWork]:
        # `opened` makes the unit the current one: the repositories the wiring makes
        # for the system's own work (match proposals, sharing requests) write through it.
        with opened(self.wired.units.begin(SystemActor(component), trace)) as uow:
            yield uow

    @staticmethod
    def _cards(organisation: str, uow: UnitOfWork) -> ClientRepository:
        # Every centre: the service's own work, never a caller's.
        return ClientRepository(organisation, None, uow)

    @staticmethod
    def _families(organisation: str, uow: UnitOfWork) -> FamilyRepository:
        return FamilyRepository(organisation, None, uow)

    @event_handler("clients.register-referred-person", ["intake.referral.submitted.v1"])
    def on_referral_submitted(self, envelope: EventEnvelope) -> None:
        facts = referral_facts(envelope)
        app, org = self.wired.app, envelope.organisation
        with self._unit() as uow:
            services.register_from_referral(
                facts,
                uow,
                self._cards(org, uow),
                proposals_repo=app.proposals_of_organisation(org),
                # A referral's new card belongs to no project: the organisation's default
                # decides its first status, so the projects are not read at all.
                settings=app.status_settings_of(org),
                consultations=app.consultations_of(org),
                disclosure=app.disclosure_of(org),
            )

    @event_handler("clients.join-consultation", ["intake.consultation.recorded.v1"])
    def on_consultation_recorded(self, envelope: EventEnvelope) -> None:
        consultation = consultation_facts(envelope)
        org = envelope.organisation
        with self._unit() as uow:
            services.consultation_recorded(
                consultation, uow, self._cards(org, uow), self.wired.app.consultations_of(org)
            )

    @event_handler(
        "clients.count-intake-contacts",
        ["intake.referral.acknowledged.v1", "intake.referral.first_contact_recorded.v1"],
    )
    def on_intake_contact(self, envelope: EventEnvelope) -> None:
        """Every contact moves the inactivity clock, not only RecordContact."""
        contact = intake_contact(envelope)
        with self._unit() as uow:
            services.contact_recorded_elsewhere(
                contact, uow, self._cards(envelope.organisation, uow)
            )

    @event_handler("clients.count-plans-contacts", ["plans.monitoring.contact_recorded.v1"])
    def on_plans_contact(self, envelope: EventEnvelope) -> None:
        """A plan's monitoring contact moves its client's inactivity clock too."""
        contact = plans_contact(envelope)
        with self._unit() as uow:
            services.contact_recorded_elsewhere(
                contact, uow, self._cards(envelope.organisation, uow)
            )

    @event_handler("clients.count-outreach-contacts", ["intake.outreach.outcome_recorded.v1"])
    def on_outreach_outcome(self, envelope: EventEnvelope) -> None:
        """Clients met in outreach were in contact: their inactivity clocks move."""
        contacts = outreach_contacts(envelope)
        with self._unit() as uow:
            cards = self._cards(envelope.organisation, uow)
            for contact in contacts:
                services.contact_recorded_elsewhere(contact, uow, cards)

    @event_handler(
        "clients.refresh-family-status",
        [
            "clients.client.status_changed.v1",
            "clients.family.created.v1",
            "clients.family.member_added.v1",
            "clients.family.member_merged.v1",
            "clients.family.status_changed.v1",
        ],
    )
    def on_family_status_inputs(self, envelope: EventEnvelope) -> None:
        """A family's shared status (and its statistics) follow its members' statuses
        and its membership."""
        changed = family_status_input(envelope)
        org = envelope.organisation
        with self._unit() as uow:
            services.refresh_shared_status(
                changed,
                uow,
                self._families(org, uow),
                self._cards(org, uow),
                self.wired.app.status_settings_of(org),
            )

    @event_handler("clients.apply-contract", ["documents.contract.signed.v1"])
    def on_contract_signed(self, envelope: EventEnvelope) -> None:
        org = envelope.organisation
        with self._unit() as uow:
            client_id, contract = contract_facts(envelope, uow.now)
            try:
                services.record_contract_signed(
                    client_id,
                    contract,
                    uow,
                    self._cards(org, uow),
                    settings=self.wired.app.settings_book(org),
                    by=envelope.actor,
                )
            except NotFound as exc:
                raise PoisonEvent(f"contract.signed for an unknown client: {exc}") from None

    @event_handler(
        "clients.keep-plan-state",
        [
            "plans.plan.drafted.v1",
            "plans.plan.signed.v1",
            "plans.plan.superseded.v1",
            "plans.plan.closed.v1",
        ],
    )
    def on_plan_state(self, envelope: EventEnvelope) -> None:
        """The client's plan state for the derived colour."""
        services.plan_announced(plan_state(envelope))

    @event_handler("clients.end-contract", ["documents.contract.ended.v1"])
    def on_contract_ended(self, envelope: EventEnvelope) -> None:
        """A contract documents ended: the card stops counting it as valid from then."""
        ended = contract_end_facts(envelope)
        with self._unit() as uow:
            try:
                services.record_contract_ended(ended, uow, self._cards(envelope.organisation, uow))
            except (UnknownContract, NotFound) as exc:
                raise PoisonEvent(f"contract.ended not applicable: {exc}") from None

    @event_handler("clients.repoint-merged-families", ["clients.client.merged.v1"])
    def on_client_merged(self, envelope: EventEnvelope) -> None:
        """Finishes a merge whose call stopped before re-pointing families (idempotent:
        usually the call already did it and nothing is left to change)."""
        absorbed, survivor = merged_cards(envelope)
        org = envelope.organisation
        with self._unit("clients.merge") as uow:
            services.repoint_families(
                absorbed, survivor, uow, self._families(org, uow), self._cards(org, uow)
            )

    @timer(interval=24 * 3600, eager=True)  # type: ignore[misc]
    def backfill_derived_rows(self) -> None:
        """Cards stored before statistics facts and search keys existed get them, once
        per organisation (a marker says it is done; later runs cost one query), and
        indexes of fields cards no longer store are dropped."""
        app = self.wired.app
        try:
            retired = app.retire_indexes()
        except Exception:
            log.exception("dropping retired card indexes failed; the next run retries")
        else:
            if retired:
                log.info("retired card indexes dropped", extra={"fields": {"indexes": retired}})
        for organisation in app.organisations_with_settings():
            try:
                written = app.backfill_derived_rows(organisation)
            except Exception:
                log.exception("backfill of derived rows failed; the next run retries")
                continue
            if written:
                log.info(
                    "derived rows written for stored cards",
                    extra={"fields": {"organisation": organisation, "cards": written}},
                )

    @timer(interval=INACTIVITY_SWEEP_SECONDS)  # type: ignore[misc]
    def sweep_inactivity(self) -> None:
        """The inactivity rule of every organisation that switched it on."""
        for organisation in self.wired.app.organisations_with_settings():
            try:
                closed = self._sweep(organisation)
            except Exception:
                log.exception("inactivity sweep failed; the next run retries")
                continue
            if closed:
                log.info(
                    "inactivity rule closed episodes",
                    extra={"fields": {"organisation": organisation, "closed": closed}},
                )

    def _sweep(self, organisation: str) -> int:
        book = self.wired.app.settings_book(organisation)
        # Contracts a worker's same-day entry deferred, then the silence rule; each
        # unit's commit publishes its status changes.
        with self._unit("clients.contracts", Trace()) as uow:
            closed = services.apply_waiting_contracts(uow, self._cards(organisation, uow), book)
        with self._unit("clients.inactivity", Trace()) as uow:
            closed += services.sweep_inactivity(uow, self._cards(organisation, uow), book)
        return closed

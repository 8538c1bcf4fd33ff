"""In-memory repositories of clients, with the interface of ``adapters.repository``, so
use cases run in unit tests without a database.

They keep the promises the use cases rely on: a repository sees only its
organisation and centres (None: every centre); ``get`` of a card it cannot see is
NOT_FOUND; ``save`` refuses a stale version (Conflict) and a second card of one
identity (DuplicateAggregate), and keeps the events saved with each aggregate in
``store.events`` (the outbox, in order). One ``ClientsStore`` holds the data every
repository made from it shares, as one database would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from casework_clients.adapters.repository import AuditEntry
from casework_clients.domain import search
from casework_clients.domain.cards import ClientCard, Consultation
from casework_clients.domain.enrolments import open_projects
from casework_clients.domain.families import Family
from casework_clients.domain.proposals import MatchProposal, SharingRequest
from casework_clients.domain.status import ClientStatus, StatusHistory
from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, NotFound
from casework_common.storage import DuplicateAggregate

_OPEN = {
    ClientStatus.APPROACHED.value,
    ClientStatus.APPLICANT.value,
    ClientStatus.SERVICE_USER.value,
}


@dataclass
class ClientsStore:
    """Everything the fakes keep: cards, families, match proposals, sharing requests,
    consultations, audit entries, and the events saved with each aggregate."""

    cards: dict[str, ClientCard] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    proposals: dict[str, MatchProposal] = field(default_factory=dict)
    sharing: dict[str, SharingRequest] = field(default_factory=dict)
    consultations: dict[str, tuple[Consultation, str]] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    events: list[EventEnvelope] = field(default_factory=list)

    def event_types(self) -> list[str]:
        return [e.type for e in self.events]


class InMemoryClientRepository:
    """``ClientRepository`` over a ClientsStore."""

    def __init__(
        self, store: ClientsStore, organisation: str, centres: frozenset[str] | None
    ) -> None:
        self._store = store
        self._organisation = organisation
        self._centres = centres

    def _in_scope(self, card: ClientCard) -> bool:
        return card.organisation == self._organisation and (
            self._centres is None or bool(set(card.centre_ids) & self._centres)
        )

    def _scoped(self) -> list[ClientCard]:
        return [c for c in self._store.cards.values() if self._in_scope(c)]

    def get(self, client_id: str) -> ClientCard:
        card = self.find(client_id)
        if card is None:
            raise NotFound(f"client {client_id} not found")
        return card

    def find(self, client_id: str) -> ClientCard | None:
        card = self._store.cards.get(client_id)
        return card if card is not None and self._in_scope(card) else None

    def ranked(self, client_id: str) -> ClientCard | None:
        return self.find(client_id)

    def by_identity(self, key: str) -> ClientCard | None:
        return next((c for c in self._scoped() if c.identity_key == key), None)

    def holder_of(self, key: str) -> ClientCard | None:
        return next(
            (
                c
                for c in self._store.cards.values()
                if c.organisation == self._organisation and c.identity_key == key
            ),
            None,
        )

    def sees(self, client_id: str) -> bool:
        return self.find(client_id) is not None

    def born_on(self, born: date) -> list[search.CandidateFacts]:
        return [_facts(c) for c in self._scoped() if c.date_of_birth == born and not c.merged_into]

    def candidate_facts(
        self, query: search.SearchQuery, answers: int = 20
    ) -> list[search.CandidateFacts]:
        # Every card in scope: the use case ranks them (the real one only narrows by keys).
        return [_facts(c) for c in self._scoped() if not c.merged_into]

    def due_for_inactivity(
        self,
        active_on_or_before: date,
        limit: int = 500,
        *,
        project_id: str | None = None,
        other_than: tuple[str, ...] = (),
    ) -> list[ClientCard]:
        due = [
            c
            for c in self._scoped()
            if (project_id is None or c.project_id == project_id)
            and c.project_id not in other_than
            and c.status in _OPEN
            and c.last_contact_on is not None
            and c.last_contact_on <= active_on_or_before
            and not c.merged_into
        ]
        due.sort(key=lambda c: (c.last_contact_on or date.min, c.client_id))
        return due[:limit]

    def by_referral(self, referral_id: str) -> ClientCard | None:
        found = [c for c in self._scoped() if referral_id in c.referral_ids]
        return found[0] if found else None

    def with_contract_awaiting_status(self, limit: int = 500) -> list[ClientCard]:
        found = [c for c in self._scoped() if c.contract_awaits_status and not c.merged_into]
        return sorted(found, key=lambda c: c.client_id)[:limit]

    def status_histories(
        self, *, centre_id: str | None, region_id: str | None
    ) -> Iterator[tuple[str, StatusHistory]]:
        for card in self._scoped():
            if card.merged_into:
                continue
            if centre_id and centre_id not in card.centre_ids:
                continue
            if region_id and card.region_id != region_id:
                continue
            yield card.client_id, card.status_history

    def by_ids(self, client_ids: list[str]) -> list[ClientCard]:
        return [c for c in self._scoped() if c.client_id in client_ids]

    def summaries(self, client_ids: list[str]) -> list[ClientCard]:
        return self.by_ids(client_ids)

    def page(
        self,
        *,
        centre_id: str | None,
        offset: int,
        limit: int,
        statuses: tuple[str, ...] = (),
        worker_id: str = "",
        project_id: str = "",
    ) -> list[ClientCard]:
        listed = [
            c
            for c in self._scoped()
            if not c.merged_into
            and (not project_id or project_id in open_projects(c.enrolment_record))
            and (not centre_id or centre_id in c.centre_ids)
            and (not statuses or c.status in statuses)
            and (not worker_id or any(w.worker_id == worker_id for w in c.responsible_workers))
        ]
        listed.sort(key=lambda c: (-c.registered_at.timestamp(), c.client_id))
        return listed[offset : offset + limit]

    def save(self, card: ClientCard, events: list[EventEnvelope]) -> ClientCard:
        stored = self._store.cards.get(card.client_id)
        if (stored.version if stored else 0) != card.version:
            raise Conflict(f"ClientDocument {card.client_id} was changed concurrently")
        if any(
            c.identity_key == card.identity_key and c.client_id != card.client_id
            for c in self._store.cards.values()
            if c.organisation == card.organisation
        ):
            raise DuplicateAggregate(f"identity {card.identity_key} is taken")
        saved = replace(card, version=card.version + 1)
        self._store.cards[card.client_id] = saved
        self._store.events.extend(events)
        return saved

    def audit_entries(self, client_id: str, *, offset: int, limit: int) -> list[AuditEntry]:
        entries = [
            e
            for e in self._store.audit
            if e.organisation == self._organisation and e.client_id == client_id
        ]
        entries.sort(key=lambda e: e.at, reverse=True)
        return entries[offset : offset + limit]

    def audit_shown(
        self, client_ids: list[str], subject: str, action: str, at: datetime, trace_id: str
    ) -> None:
        for client_id in client_ids:
            self.audit(client_id, subject, action, at, trace_id)

    def audit(self, client_id: str, subject: str, action: str, at: datetime, trace_id: str) -> None:
        self._store.audit.append(
            AuditEntry(
                organisation=self._organisation,
                client_id=client_id,
                subject=subject,
                action=action,
                at=at,
                trace_id=trace_id,
            )
        )


class InMemoryConsultationRepository:
    """``ConsultationRepository`` over a ClientsStore."""

    def __init__(self, store: ClientsStore, organisation: str) -> None:
        self._store = store
        self._organisation = organisation

    def keep(self, consultation: Consultation, now: datetime) -> None:
        self._store.consultations.setdefault(consultation.consultation_id, (consultation, ""))

    def waiting_for(self, born: date) -> list[Consultation]:
        return [
            c
            for c, attached_to in self._store.consultations.values()
            if c.organisation == self._organisation and c.date_of_birth == born and not attached_to
        ]

    def waiting(self, consultation_id: str) -> tuple[Consultation, str] | None:
        found = self._store.consultations.get(consultation_id)
        if found is None or found[0].organisation != self._organisation:
            return None
        return found

    def mark_attached(self, consultation_id: str, client_id: str, now: datetime) -> None:
        consultation, _ = self._store.consultations[consultation_id]
        self._store.consultations[consultation_id] = (consultation, client_id)


class InMemorySharingRequestRepository:
    """``SharingRequestRepository`` over a ClientsStore."""

    def __init__(
        self, store: ClientsStore, organisation: str, centres: frozenset[str] | None
    ) -> None:
        self._store = store
        self._organisation = organisation
        self._centres = centres

    def _in_scope(self, request: SharingRequest) -> bool:
        return request.organisation == self._organisation and (
            self._centres is None or bool(set(request.centre_ids) & self._centres)
        )

    def get(self, request_id: str) -> SharingRequest:
        request = self._store.sharing.get(request_id)
        if request is None or not self._in_scope(request):
            raise NotFound(f"sharing request {request_id} not found")
        return request

    def page(self, *, status: str | None, offset: int, limit: int) -> list[SharingRequest]:
        found = [
            r
            for r in self._store.sharing.values()
            if self._in_scope(r) and (status is None or r.status.value == status)
        ]
        found.sort(key=lambda r: (r.requested_at, r.request_id), reverse=True)
        return found[offset : offset + limit]

    def save(self, request: SharingRequest, events: list[EventEnvelope]) -> SharingRequest:
        stored = self._store.sharing.get(request.request_id)
        if (stored.version if stored else 0) != request.version:
            raise Conflict(f"SharingRequestDocument {request.request_id} was changed concurrently")
        saved = replace(request, version=request.version + 1)
        self._store.sharing[request.request_id] = saved
        self._store.events.extend(events)
        return saved


class InMemoryFamilyRepository:
    """``FamilyRepository`` over a ClientsStore."""

    def __init__(
        self, store: ClientsStore, organisation: str, centres: frozenset[str] | None
    ) -> None:
        self._store = store
        self._organisation = organisation
        self._centres = centres

    def _in_scope(self, family: Family) -> bool:
        return family.organisation == self._organisation and (
            self._centres is None or bool(set(family.centre_ids) & self._centres)
        )

    def get(self, family_id: str) -> Family:
        family = self._store.families.get(family_id)
        if family is None or not self._in_scope(family):
            raise NotFound(f"family {family_id} not found")
        return family

    def of_client(self, client_id: str) -> list[Family]:
        return [
            f
            for f in self._store.families.values()
            if self._in_scope(f) and client_id in f.member_ids
        ]

    def save(self, family: Family, events: list[EventEnvelope]) -> Family:
        stored = self._store.families.get(family.family_id)
        if (stored.version if stored else 0) != family.version:
            raise Conflict(f"FamilyDocument {family.family_id} was changed concurrently")
        saved = replace(family, version=family.version + 1)
        self._store.families[family.family_id] = saved
        self._store.events.extend(events)
        return saved


class InMemoryMatchProposalRepository:
    """``MatchProposalRepository`` over a ClientsStore: one proposal per referral (a
    second one of the same id is a DuplicateAggregate)."""

    def __init__(
        self, store: ClientsStore, organisation: str, centres: frozenset[str] | None
    ) -> None:
        self._store = store
        self._organisation = organisation
        self._centres = centres

    def _in_scope(self, proposal: MatchProposal) -> bool:
        return proposal.organisation == self._organisation and (
            self._centres is None or bool(set(proposal.centre_ids) & self._centres)
        )

    def get(self, proposal_id: str) -> MatchProposal:
        proposal = self._store.proposals.get(proposal_id)
        if proposal is None or not self._in_scope(proposal):
            raise NotFound(f"match proposal {proposal_id} not found")
        return proposal

    def page(self, *, status: str | None, offset: int, limit: int) -> list[MatchProposal]:
        found = [
            p
            for p in self._store.proposals.values()
            if self._in_scope(p) and (status is None or p.status.value == status)
        ]
        found.sort(key=lambda p: (p.proposed_at, p.proposal_id), reverse=True)
        return found[offset : offset + limit]

    def save(self, proposal: MatchProposal, events: list[EventEnvelope]) -> MatchProposal:
        stored = self._store.proposals.get(proposal.proposal_id)
        if stored is not None and proposal.version == 0:
            raise DuplicateAggregate(f"match proposal {proposal.proposal_id} is stored")
        if (stored.version if stored else 0) != proposal.version:
            raise Conflict(f"MatchProposalDocument {proposal.proposal_id} was changed concurrently")
        saved = replace(proposal, version=proposal.version + 1)
        self._store.proposals[proposal.proposal_id] = saved
        self._store.events.extend(events)
        return saved


def _facts(card: ClientCard) -> search.CandidateFacts:
    return search.CandidateFacts(
        card.client_id,
        card.given_name,
        card.family_name,
        card.date_of_birth,
        card.phone,
        card.email,
        card.identity_key,
    )

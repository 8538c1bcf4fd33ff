"""Match proposals and sharing requests in the clients database (mongoengine), scoped
to the centres of the card they concern.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import mongoengine as me

from casework_clients.adapters.repository.card_documents import AuditEntry, ClientDocument
from casework_clients.adapters.repository.cards import ClientRepository
from casework_clients.adapters.repository.consultations import (
    ConsultationRepository,
    UnattachedConsultation,
)
from casework_clients.adapters.repository.families import FamilyDocument, FamilyRepository
from casework_clients.domain.cards import (
    ReferralFacts,
)
from casework_clients.domain.proposals import (
    MatchProposal,
    ProposalStatus,
    SharingRequest,
    SharingStatus,
    UnverifiedDetails,
)
from casework_common.envelope import EventEnvelope
from casework_common.repository import ScopedRepository
from casework_common.storage import AggregateDocument, DuplicateAggregate


class MatchProposalDocument(AggregateDocument):
    """A referral matched to a card, waiting for (or decided by) the card's workers."""

    meta = {
        "collection": "match_proposals",
        "indexes": [{"fields": ["organisation", "centre_ids", "status", "-proposed_at"]}],
    }

    id = me.StringField(primary_key=True)
    client_id = me.StringField(required=True)
    centre_ids = me.ListField(me.StringField())
    referral = me.DictField()
    unverified = me.DictField()
    match = me.StringField(default="")
    score = me.IntField(default=0)
    reasons = me.ListField(me.StringField())
    proposed_at = me.DateTimeField(required=True)
    status = me.StringField(required=True)
    decided_by = me.StringField(default="")
    decided_at = me.DateTimeField()
    merged_details = me.ListField(me.StringField())
    shared_with_referring_centre = me.BooleanField(default=False)
    new_client_id = me.StringField(default="")
    reason = me.StringField(default="")


def _facts_to_dict(f: ReferralFacts) -> dict[str, Any]:
    return {
        "referral_id": f.referral_id, "given_name": f.given_name,
        "family_name": f.family_name,
        "date_of_birth": f.date_of_birth.isoformat() if f.date_of_birth else "",
        "phone": f.phone, "email": f.email, "address": f.address, "region_id": f.region_id,
        "centre_id": f.centre_id, "client_type": f.client_type,
        "problem_type": f.problem_type, "channel": f.channel, "submitted_at": f.submitted_at,
    }  # fmt: skip


def _facts_from_dict(organisation: str, raw: dict[str, Any]) -> ReferralFacts:
    return ReferralFacts(
        referral_id=raw["referral_id"], organisation=organisation,
        given_name=raw["given_name"], family_name=raw["family_name"],
        date_of_birth=(
            date.fromisoformat(raw["date_of_birth"]) if raw.get("date_of_birth") else None
        ),
        phone=raw.get("phone", ""),
        email=raw.get("email", ""), address=raw.get("address", ""),
        region_id=raw.get("region_id", ""), centre_id=raw["centre_id"],
        client_type=raw.get("client_type", ""), problem_type=raw.get("problem_type", ""),
        channel=raw.get("channel", ""), submitted_at=raw["submitted_at"],
    )  # fmt: skip


def _proposal_to_domain(doc: MatchProposalDocument) -> MatchProposal:
    u = doc.unverified or {}
    return MatchProposal(
        proposal_id=doc.id,
        organisation=doc.organisation,
        client_id=doc.client_id,
        centre_ids=tuple(doc.centre_ids),
        referral=_facts_from_dict(doc.organisation, doc.referral),
        unverified=UnverifiedDetails(u.get("phone", ""), u.get("email", ""), u.get("address", "")),
        match=doc.match,
        score=doc.score,
        reasons=tuple(doc.reasons),
        proposed_at=doc.proposed_at,
        status=ProposalStatus(doc.status),
        decided_by=doc.decided_by,
        decided_at=doc.decided_at,
        merged_details=tuple(doc.merged_details),
        shared_with_referring_centre=bool(doc.shared_with_referring_centre),
        new_client_id=doc.new_client_id,
        reason=doc.reason,
        version=doc.version,
    )


class MatchProposalRepository(ScopedRepository[MatchProposalDocument]):
    """Proposals of one organisation visible from `centres`: those of cards of the
    caller's centres (None: all, for the system's own consumers only)."""

    document = MatchProposalDocument
    centre_field = "centre_ids"
    what = "match proposal"

    def get(self, proposal_id: str) -> MatchProposal:
        return _proposal_to_domain(self._one(proposal_id))

    def page(self, *, status: str | None, offset: int, limit: int) -> list[MatchProposal]:
        query = self._scoped()
        if status:
            query = query.filter(status=status)
        docs = query.order_by("-proposed_at", "id").skip(offset).limit(limit)
        return [_proposal_to_domain(d) for d in docs]

    def save(self, proposal: MatchProposal, events: list[EventEnvelope]) -> MatchProposal:
        """Raises DuplicateAggregate when this referral's proposal is already stored."""
        p = proposal
        doc = MatchProposalDocument(
            id=p.proposal_id, organisation=p.organisation, client_id=p.client_id,
            centre_ids=list(p.centre_ids), referral=_facts_to_dict(p.referral),
            unverified={"phone": p.unverified.phone, "email": p.unverified.email,
                        "address": p.unverified.address},
            match=p.match, score=p.score, reasons=list(p.reasons), proposed_at=p.proposed_at,
            status=p.status.value, decided_by=p.decided_by, decided_at=p.decided_at,
            merged_details=list(p.merged_details),
            shared_with_referring_centre=p.shared_with_referring_centre,
            new_client_id=p.new_client_id, reason=p.reason, version=p.version,
        )  # fmt: skip
        self._save(doc, events)
        return _proposal_to_domain(doc)


# ------------------------------------------------------------------ sharing requests


class SharingRequestDocument(AggregateDocument):
    """A worker of another centre asked, without knowing it, for a card of this one."""

    meta = {
        "collection": "sharing_requests",
        "indexes": [{"fields": ["organisation", "centre_ids", "status", "-requested_at"]}],
    }

    id = me.StringField(primary_key=True)
    client_id = me.StringField(required=True)
    centre_ids = me.ListField(me.StringField())
    requester_client_id = me.StringField(required=True)
    requesting_centre_ids = me.ListField(me.StringField())
    requested_by = me.StringField(required=True)
    cause = me.StringField(required=True)
    requested_at = me.DateTimeField(required=True)
    status = me.StringField(required=True)
    decided_by = me.StringField(default="")
    decided_at = me.DateTimeField()


def _sharing_to_domain(doc: SharingRequestDocument) -> SharingRequest:
    return SharingRequest(
        request_id=doc.id, organisation=doc.organisation, client_id=doc.client_id,
        centre_ids=tuple(doc.centre_ids), requester_client_id=doc.requester_client_id,
        requesting_centre_ids=tuple(doc.requesting_centre_ids),
        requested_by=doc.requested_by, cause=doc.cause, requested_at=doc.requested_at,
        status=SharingStatus(doc.status), decided_by=doc.decided_by,
        decided_at=doc.decided_at, version=doc.version,
    )  # fmt: skip


class SharingRequestRepository(ScopedRepository[SharingRequestDocument]):
    """Sharing requests about cards of `centres` (None: all, system only)."""

    document = SharingRequestDocument
    centre_field = "centre_ids"
    what = "sharing request"

    def get(self, request_id: str) -> SharingRequest:
        return _sharing_to_domain(self._one(request_id))

    def page(self, *, status: str | None, offset: int, limit: int) -> list[SharingRequest]:
        query = self._scoped()
        if status:
            query = query.filter(status=status)
        docs = query.order_by("-requested_at", "id").skip(offset).limit(limit)
        return [_sharing_to_domain(d) for d in docs]

    def save(self, request: SharingRequest, events: list[EventEnvelope]) -> SharingRequest:
        r = request
        doc = SharingRequestDocument(
            id=r.request_id, organisation=r.organisation, client_id=r.client_id,
            centre_ids=list(r.centre_ids), requester_client_id=r.requester_client_id,
            requesting_centre_ids=list(r.requesting_centre_ids), requested_by=r.requested_by,
            cause=r.cause, requested_at=r.requested_at, status=r.status.value,
            decided_by=r.decided_by, decided_at=r.decided_at, version=r.version,
        )  # fmt: skip
        self._save(doc, events)
        return _sharing_to_domain(doc)


__all__ = [
    "AuditEntry",
    "ClientDocument",
    "ClientRepository",
    "ConsultationRepository",
    "DuplicateAggregate",
    "FamilyDocument",
    "FamilyRepository",
    "MatchProposalDocument",
    "MatchProposalRepository",
    "SharingRequestDocument",
    "SharingRequestRepository",
    "UnattachedConsultation",
]
